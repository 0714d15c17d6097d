"""The FastAPI application: one router per resource, all reading the same journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from atp import __version__
from atp.api import monitoring

if TYPE_CHECKING:
    from atp.engine.service import Platform


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="ATP", version=__version__, docs_url="/docs")
    app.state.platform = platform
    app.include_router(monitoring.router)
    return app
