"""Request signing as the Crypto.com Exchange v1 API verifies it.

Written from the exchange's documentation, independently of the adapter (and of ccxt):
an emulator that verified with the client's own signing code would prove nothing.

    sig = hex(HMAC_SHA256(secret, method + id + api_key + param_string + nonce))

`param_string`: the params' keys in ascending order, each followed by its value; a list
value contributes its items in order, each rendered the same way one level deeper; past
depth 3 (or for a non-container value) the value's plain string form; `null` for None.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

MAX_LEVEL = 3
NONCE_WINDOW_MS = 60_000


def param_string(obj: Any, level: int = 0) -> str:
    if level >= MAX_LEVEL:
        return str(obj)
    if not isinstance(obj, dict):
        return str(obj)
    out: list[str] = []
    for key in sorted(obj):
        out.append(key)
        value = obj[key]
        if value is None:
            out.append("null")
        elif isinstance(value, list):
            out.extend(param_string(item, level + 1) for item in value)
        else:
            out.append(str(value))
    return "".join(out)


def signature(secret: str, method: str, req_id: Any, api_key: str, params: Any, nonce: Any) -> str:
    payload = f"{method}{req_id}{api_key}{param_string(params or {})}{nonce}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@dataclass
class ApiKey:
    """One API key as the exchange stores it; `allowlist` None = any address."""

    key: str
    secret: str
    allowlist: frozenset[str] | None = None
    balances: dict[str, str] = field(default_factory=dict)


def verify(key: ApiKey | None, body: dict[str, Any]) -> bool:
    if key is None:
        return False
    expected = signature(
        key.secret, str(body.get("method", "")), body.get("id", ""), key.key,
        body.get("params") or {}, body.get("nonce", ""),
    )
    return hmac.compare_digest(expected, str(body.get("sig", "")))
