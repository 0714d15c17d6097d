"""What every request and response passes through, below the routers (pure ASGI, so the
health endpoint pays microseconds, not a BaseHTTPMiddleware task per request).

- `StrictJson`: a write whose JSON body carries NaN, ±Infinity or a number no double can
  hold (`1e999`, a 400-digit integer) is a 422 naming the field. RFC 8259 has no NaN or
  Infinity, yet Python's parser (Starlette's) accepts them and turns `1e999` into inf;
  a body field typed `Any` would otherwise carry them to the core, and any echo of them
  in an error made the response unserialisable (a 500). Checked for every write method,
  DELETE included, before any route reads the body.
- `SecurityHeaders`: the dashboard's Content-Security-Policy (its own static JS and CSS
  only: no inline script or style, no framing), X-Frame-Options, X-Content-Type-Options
  and Referrer-Policy on every answer; the API docs pages (Swagger / ReDoc load their
  assets from a CDN with an inline bootstrap) get the headers but not the CSP.
- `json_safe`: makes an error detail serialisable whatever input it echoes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_JSON_MSG = "{literal} is not JSON (RFC 8259 has no NaN or Infinity): send a finite number"
OVERFLOW_MSG = ("{literal} is out of range (a double holds at most about 1.8e308): "
                "send a finite number")
# a double tops out near 1.8e308: an integer literal with more digits cannot be one
MAX_INT_DIGITS = 309

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by its JSON-ish name ("NaN",
    "Infinity", "-Infinity"), so a 422 that echoes the input can always be sent."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class _NotFinite:
    """Stands in for a literal that is no finite double, remembering how it was written."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_float(text: str) -> float | _NotFinite:
    number = float(text)
    return number if math.isfinite(number) else _NotFinite(text)


def _parse_int(text: str) -> int | _NotFinite:
    return _NotFinite(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _find_not_finite(value: Any, loc: list[str | int]) -> tuple[list[str | int], str] | None:
    if isinstance(value, _NotFinite):
        return loc, value.literal
    children: Iterable[tuple[str | int, Any]]
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        found = _find_not_finite(child, [*loc, key])
        if found is not None:
            return found
    return None


def not_finite_problem(body: bytes) -> dict[str, Any] | None:
    """The 422 detail item for the first non-finite number in a JSON `body`, or None
    (also None for a body that is not JSON: the route's own parser answers that)."""
    try:
        data = json.loads(body, parse_constant=_NotFinite, parse_float=_parse_float,
                          parse_int=_parse_int)
    except ValueError:
        return None
    found = _find_not_finite(data, ["body"])
    if found is None:
        return None
    loc, literal = found
    template = NOT_JSON_MSG if literal in ("NaN", "Infinity", "-Infinity") else OVERFLOW_MSG
    return {"loc": loc, "msg": template.format(literal=literal), "type": "finite_number",
            "input": literal if len(literal) <= 32 else f"{literal[:29]}..."}


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json"))
    return False


class StrictJson:
    """Refuse non-finite numbers in the JSON body of every write (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS or not _is_json(
                scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        problem = not_finite_problem(b"".join(chunks)) if chunks else None
        if problem is not None:
            await _send_json(send, 422, {"detail": [problem]})
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


async def _send_json(send: Send, status: int, content: Any) -> None:
    body = json.dumps(content, allow_nan=False, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Add the security headers to every response (the CSP except on `csp_exempt`)."""

    def __init__(self, app: ASGIApp, csp_exempt: Iterable[str | None] = ()) -> None:
        self.app = app
        self.csp_exempt = frozenset(p for p in csp_exempt if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURITY_HEADERS)
        if scope["path"] not in self.csp_exempt:
            extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message = {**message, "headers": [
                    *message.get("headers", ()),
                    *((n, v) for n, v in extra if n not in present),
                ]}
            await send(message)

        await self.app(scope, receive, with_headers)
