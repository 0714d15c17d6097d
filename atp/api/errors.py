"""How the core's refusals and the store's failures become HTTP answers.

A refusal names the field in FastAPI's validation-error shape (so clients parse one
format); a uniqueness race is a 409, a database that is down a 503 with the reason.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from atp.engine.core import Conflict, CoreError, Invalid, NotFound
from atp.logging import get_logger
from atp.store.errors import StoreConflict, StoreUnavailable

log = get_logger("atp.api")


def status_of(exc: CoreError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Invalid):
        return 422
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(CoreError)
    async def _refused(request: Request, exc: CoreError) -> JSONResponse:
        code = status_of(exc)
        if code == 422 and exc.loc is not None:
            detail = [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]
            return JSONResponse({"detail": detail}, 422)
        return JSONResponse({"detail": exc.message}, code)

    @app.exception_handler(StoreConflict)
    async def _conflict(request: Request, exc: StoreConflict) -> JSONResponse:
        # e.g. two writers adding the same symbol at once: the unique constraint decides
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("database unavailable", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": str(exc)}, 503)
