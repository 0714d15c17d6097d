"""Dashboard pages. Each is a server-rendered shell that `static/app.js` fills from the
JSON API and refreshes every few seconds; the API is the only source of what is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from atp import __version__

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)

PAGES: dict[str, tuple[str, str]] = {
    # path: (template, title)
    "/": ("watchlist.html", "Watchlist"),
    "/trading": ("trading.html", "Trading"),
    "/portfolio": ("portfolio.html", "Portfolio"),
    "/orders": ("orders.html", "Orders"),
    "/messages": ("messages.html", "Telegram messages"),
    "/events": ("events.html", "Event journal"),
    "/settings": ("settings.html", "Settings"),
    "/integrity": ("integrity.html", "Integrity"),
}
REFRESH_MS = 5000


def _page(path: str, template: str, title: str) -> Any:
    async def page(request: Request) -> HTMLResponse:
        platform = request.app.state.platform
        return templates.TemplateResponse(request, template, {
            "title": title,
            "path": path,
            "pages": [(p, t) for p, (_, t) in PAGES.items()],
            "instance": platform.settings.instance_name,
            "version": __version__,
            "refresh_ms": REFRESH_MS,
        })

    page.__name__ = f"page_{template.removesuffix('.html')}"
    return page


for _path, (_template, _title) in PAGES.items():
    router.add_api_route(_path, _page(_path, _template, _title), methods=["GET"],
                         response_class=HTMLResponse)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
