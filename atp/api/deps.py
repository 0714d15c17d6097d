"""Dependencies shared by the routers: the platform, the write guard, query helpers.

Writes are refused unless the caller presents the configured API token; with no token
configured every write is refused, so a forgotten API_TOKEN can never mean "open to all".
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from atp.engine.core import Core
from atp.engine.service import Platform
from atp.engine.status import PlatformStatus

SYMBOL_PATTERN = r"^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$"
PRESET_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DECISION_ID_PATTERN = r"^[0-9a-fA-F-]{1,36}$"
EVENT_TYPES_PATTERN = r"^[a-z0-9_]{1,64}(,[a-z0-9_]{1,64}){0,19}$"
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000

_bearer = HTTPBearer(auto_error=False, description="API_TOKEN of the platform")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_core(request: Request) -> Core:
    """The application core: every router reads and writes through it."""
    core: Core = request.app.state.platform.core
    return core


def get_status(request: Request) -> PlatformStatus:
    """A typed snapshot of the process state (no attribute of `Platform` read directly)."""
    status: PlatformStatus = request.app.state.platform.status()
    return status


CoreDep = Annotated[Core, Depends(get_core)]
StatusDep = Annotated[PlatformStatus, Depends(get_status)]


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The author of an authorised write ("dashboard" or "api"), or 401/403 with the why."""
    platform = get_platform(request)
    expected = platform.settings.api_token
    if expected is None or not expected.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "writes are disabled: API_TOKEN is not configured; set API_TOKEN to a long "
            "random string and restart to allow changes",
        )
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send 'Authorization: Bearer <API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    client = request.headers.get("x-atp-client", "")
    return "dashboard" if client == "dashboard" else "api"


Author = Annotated[str, Depends(require_writer)]


def aware(value: datetime | None, field: str) -> datetime | None:
    """Query times as aware UTC (naive ones are taken as UTC); 422 naming the field when
    the value cannot be represented in UTC (e.g. year 1 with a positive offset)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise unprocessable(["query", field], f"not a representable UTC time: {exc}") from None


def unprocessable(loc: list[str | int], msg: str, kind: str = "value_error") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, so clients parse one format."""
    detail: list[dict[str, Any]] = [{"loc": loc, "msg": msg, "type": kind}]
    return HTTPException(422, detail)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
Since = Annotated[datetime | None, Query(description="inclusive lower bound (ISO 8601)")]
Until = Annotated[datetime | None, Query(description="exclusive upper bound (ISO 8601)")]
SymbolFilter = Annotated[
    str | None, Query(pattern=SYMBOL_PATTERN, description="e.g. BTC_USDT")
]
