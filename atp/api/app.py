"""The FastAPI application: one router per resource, all reading the same journal.

`create_app(platform)` is served by uvicorn inside the platform's own process and event
loop (`atp.api.server.serve`). Errors are answered, never leaked as tracebacks: a
database that is down is a 503 with the reason, a uniqueness race a 409, a refused body
a 422 whose `loc` names the field (whatever it echoes: NaN included), and anything
unexpected a 500 that is logged and journaled (the schemathesis test proves none occur).
`atp.api.guards` refuses non-finite JSON numbers on every write and adds the security
headers (CSP, X-Frame-Options, nosniff, Referrer-Policy) to every answer.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from atp import __version__
from atp.api import (
    configuration,
    errors,
    journal,
    market,
    metrics,
    monitoring,
    operators,
    portfolio,
    probe,
    state,
    trading,
)
from atp.api.guards import SecurityHeaders, StrictJson, json_safe
from atp.engine.service import Platform
from atp.logging import get_logger

log = get_logger("atp.api")


def create_app(platform: Platform) -> FastAPI:
    from atp.web import routes as web

    app = FastAPI(
        title="ATP",
        version=__version__,
        docs_url="/docs",
        description="Automated trading platform: monitoring, journal, configuration. "
        "Every request that changes state needs `Authorization: Bearer <API_TOKEN>`.",
    )
    app.state.platform = platform
    app.state.integrity = None  # the integrity package plugs a callable in here
    app.state.metrics = metrics.Metrics(platform)
    for module in (monitoring, market, journal, state, configuration, trading, metrics,
                   operators, portfolio, probe):
        app.include_router(module.router)
    web.mount(app)
    _handlers(app)
    app.add_middleware(StrictJson)
    app.add_middleware(SecurityHeaders, csp_exempt=(
        app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url))
    return app


def _handlers(app: FastAPI) -> None:
    errors.install(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own shape (loc names the field), with an echoed NaN / inf made JSON:
        # the default handler raised on it and turned a refusal into a 500
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, 422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected API error", path=request.url.path,
                  error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); see the server log"}, 500
        )
