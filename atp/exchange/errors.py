"""ATP's exchange error classes: every ccxt / aiohttp failure is translated here, at the edge.

Each class says what went wrong in operator terms and carries a one-line `fix`. Auth and
proxy failures are told apart the way an operator must tell them apart (runbook step h):
40101 wrong key or signature, 40102 clock, 40103 IP allowlist, 407 proxy credentials.
ccxt has no class for a proxy's 407: async ccxt raises a plain ExchangeError whose
`__cause__` is aiohttp's ClientHttpProxyError (CONNECT to https targets), or answers with
the proxy's 407 page (plain-http targets, which the adapter marks as `ProxyStatusError`).

No secret reaches a message: every text goes through a `Redactor` first.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import aiohttp
import ccxt

log = logging.getLogger("atp.exchange")

AUTH_MARKER = "[CRYPTO_AUTH_DIAG]"


class ProxyStatusError(ccxt.ExchangeError):  # type: ignore[misc]
    """Raised by the adapter's ccxt subclass when a proxy answers an HTTP status (407…)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Redactor:
    """Replaces every configured secret (and its URL-encoded form) with `***`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        from urllib.parse import quote

        values: set[str] = set()
        for s in secrets:
            if s and len(s) >= 4:
                values.update({s, quote(s, safe=""), quote(s)})
        # longest first so a secret containing another is hidden whole
        self._values = sorted(values, key=len, reverse=True)
        self._userinfo = re.compile(r"(\w+://)[^/@\s:]+:[^/@\s]+@")

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return self._userinfo.sub(r"\1***:***@", text)


class ExchangeFailure(Exception):
    """Base of ATP's exchange errors: a category, a kind, a diagnosis and a fix."""

    category: ClassVar[str] = "exchange"
    kind: str = "exchange"
    diagnosis: str = "exchange error"
    _fix: str = "see the exchange's answer in the message"

    @property
    def fix(self) -> str:
        """One line an operator can act on."""
        return self._fix

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        code: int | None = None,
        exchange_message: str | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.code = code
        self.exchange_message = exchange_message
        self.cause = cause  # class name of the original exception, for the record
        self.attempt = 1
        self.will_retry = False

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{self.diagnosis}{code}: {self.message} — fix: {self.fix}"

    def as_event(self) -> dict[str, Any]:
        """The typed event the engine records: plain JSON-able fields, no secrets."""
        return {
            "category": self.category,
            "kind": self.kind,
            "diagnosis": self.diagnosis,
            "code": self.code,
            "exchange_message": self.exchange_message,
            "message": self.message,
            "operation": self.operation,
            "fix": self.fix,
            "attempt": self.attempt,
            "will_retry": self.will_retry,
            "cause": self.cause,
        }


class AuthError(ExchangeFailure):
    category = "auth"
    _KINDS: ClassVar[dict[str, tuple[str, str]]] = {
        "wrong_key_or_signature": (
            "wrong key or signature",
            "copy EXCHANGE_API_KEY and EXCHANGE_API_SECRET again from the exchange's API "
            "management page (a deleted or regenerated key answers 40101)",
        ),
        "clock": (
            "clock",
            "the host's clock is more than 60 s off the exchange's: enable NTP "
            "(timedatectl set-ntp true, or chrony); ATP recovers by itself once the clocks agree",
        ),
        "ip_allowlist": (
            "IP allowlist",
            "add this host's public IP address to the API key's IP allowlist on the exchange, "
            "or send exchange calls through an allowlisted proxy (EXCHANGE_PROXY_URL)",
        ),
        "not_permitted": (
            "key not permitted",
            "give the API key the needed permissions (read, trade) on the exchange",
        ),
    }

    def __init__(self, message: str, *, kind: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind
        self.diagnosis, self._fix = self._KINDS[kind]


class ProxyError(ExchangeFailure):
    category = "proxy"
    _KINDS: ClassVar[dict[str, tuple[str, str]]] = {
        "proxy_auth": (
            "proxy authentication",
            "the proxy rejected its credentials (407): fix user:password in EXCHANGE_PROXY_URL",
        ),
        "proxy_unreachable": (
            "proxy unreachable",
            "nothing answers at EXCHANGE_PROXY_URL's host:port: start the proxy or fix the URL",
        ),
        "proxy_error": (
            "proxy error",
            "the proxy refused to forward the request: check its logs and EXCHANGE_PROXY_URL",
        ),
    }

    def __init__(self, message: str, *, kind: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind
        self.diagnosis, self._fix = self._KINDS[kind]


class NetworkError(ExchangeFailure):
    category = "network"
    kind = "network"
    diagnosis = "exchange unreachable"
    _fix = (
        "check the host's network and DNS and https://status.crypto.com; "
        "timeouts are retried with backoff"
    )


class RateLimited(ExchangeFailure):
    category = "rate_limit"
    kind = "rate_limited"
    diagnosis = "rate limited"
    _fix = "fewer requests: fewer watchlist symbols or a longer monitor interval; ATP backs off"


class ExchangeRejected(ExchangeFailure):
    category = "rejected"
    kind = "rejected"
    diagnosis = "rejected by the exchange"

    @property
    def fix(self) -> str:
        return (
            f"the exchange refused the request (code {self.code}: {self.exchange_message}); "
            "check the order's parameters and the account's balance"
        )


class MalformedReply(ExchangeFailure):
    category = "malformed"
    kind = "malformed"
    diagnosis = "malformed reply"
    _fix = "the exchange answered data ATP cannot read; the symbol stays unknown until it recovers"


ErrorSink = Callable[[ExchangeFailure], None]

_AUTH_CODES = {40101: "wrong_key_or_signature", 40102: "clock", 40103: "ip_allowlist",
               40104: "not_permitted", 10002: "not_permitted"}
_BODY = re.compile(r"(\{.*\})", re.DOTALL)


def _exchange_answer(text: str) -> tuple[int | None, str | None]:
    """ccxt's messages are 'cryptocom <response body>': pull out code and message."""
    match = _BODY.search(text)
    if not match:
        return None, None
    try:
        body = json.loads(match.group(1))
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    try:
        code_int = int(code) if code is not None else None
    except (TypeError, ValueError):
        code_int = None
    msg = body.get("message") or body.get("msg")
    return code_int, (str(msg) if msg is not None else None)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def classify(exc: BaseException, operation: str, redact: Redactor) -> ExchangeFailure:
    """Translate any failure of an exchange call into ATP's classes.

    Raises `exc` itself when it is not an I/O or exchange failure (a programming error must
    not be disguised as an outage).
    """
    if isinstance(exc, ExchangeFailure):
        return exc
    if not isinstance(exc, ccxt.BaseError | aiohttp.ClientError | TimeoutError | OSError):
        raise exc
    text = redact(str(exc))[:500]
    kw: dict[str, Any] = {"operation": operation, "cause": type(exc).__name__}
    for link in _chain(exc):
        if isinstance(link, ProxyStatusError):
            kind = "proxy_auth" if link.status == 407 else "proxy_error"
            return ProxyError(f"proxy answered HTTP {link.status}", kind=kind, **kw)
        if isinstance(link, aiohttp.ClientHttpProxyError):
            kind = "proxy_auth" if link.status == 407 else "proxy_error"
            return ProxyError(f"proxy answered HTTP {link.status}", kind=kind, **kw)
        if isinstance(link, aiohttp.ClientProxyConnectionError):
            return ProxyError("cannot connect to the proxy", kind="proxy_unreachable", **kw)
    code, answer = _exchange_answer(text)
    kw.update(code=code, exchange_message=answer)
    if code in _AUTH_CODES:
        return AuthError(text, kind=_AUTH_CODES[code], **kw)
    if isinstance(exc, ccxt.InvalidNonce):
        return AuthError(text, kind="clock", **kw)
    if isinstance(exc, ccxt.PermissionDenied):
        return AuthError(text, kind="not_permitted", **kw)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthError(text, kind="wrong_key_or_signature", **kw)
    if code == 42901 or isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimited(text, **kw)
    if isinstance(exc, ccxt.NetworkError | aiohttp.ClientError | TimeoutError | OSError):
        return NetworkError(text, **kw)
    if isinstance(exc, ccxt.ExchangeError) and code is None and "Proxy Authentication" in text:
        # a proxy's own 407 page, when no status was available to mark it
        return ProxyError("proxy answered 407", kind="proxy_auth", **kw)
    return ExchangeRejected(text, **kw)


def log_failure(failure: ExchangeFailure, logger: logging.Logger = log) -> None:
    """One line per failure: `[CRYPTO_AUTH_DIAG]` for auth/proxy, an error line otherwise."""
    fields = failure.as_event()
    line = (
        f"diagnosis={failure.diagnosis} | kind={failure.kind} | code={failure.code} | "
        f"operation={failure.operation} | attempt={failure.attempt} | "
        f"will_retry={failure.will_retry} | fix={failure.fix}"
    )
    extra = {"exchange_failure": fields}
    if failure.category in ("auth", "proxy"):
        logger.warning("%s %s", AUTH_MARKER, line, extra=extra)
    elif failure.will_retry:
        logger.warning("exchange call failed, retrying | %s", line, extra=extra)
    else:
        logger.error("exchange call failed | %s", line, extra=extra)
