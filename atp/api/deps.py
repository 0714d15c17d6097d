"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from atp.engine.service import Platform


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform
