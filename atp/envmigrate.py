"""Move the old platform's `.env` to ATP's names: `python -m atp.envmigrate OLD.env > .env`.

The table in README "Production (Docker Compose)", as code. Pure (`translate`) apart from
`main`. Values are copied, never printed elsewhere: the names dropped are listed in a
comment by name only, since some of them hold secrets.
"""

from __future__ import annotations

import sys
from urllib.parse import unquote, urlsplit

RENAMED = {
    "EXCHANGE_CUSTOM_API_KEY": "EXCHANGE_API_KEY",
    "EXCHANGE_CUSTOM_API_SECRET": "EXCHANGE_API_SECRET",
    "EXCHANGE_CUSTOM_BASE_URL": "EXCHANGE_BASE_URL",
    "TELEGRAM_CHAT_ID_TRADING": "TELEGRAM_CHAT_ID",
    "SECRET_KEY": "API_TOKEN",
}
KEPT = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "API_PORT", "API_HOST", "LOG_LEVEL",
        "EXCHANGE_API_KEY", "EXCHANGE_API_SECRET", "EXCHANGE_BASE_URL", "EXCHANGE_PROXY_URL")
PRODUCTION_NAMES = {"aws", "prod", "production"}
TRUE = {"1", "true", "yes", "on"}


def _database(url: str) -> dict[str, str]:
    """postgresql://user:pw@host:port/db → the compose file's POSTGRES_* (it builds the URL
    for the db service itself); anything else stays a DATABASE_URL."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return {"DATABASE_URL": url}
    out = {"POSTGRES_USER": unquote(parts.username or "atp"),
           "POSTGRES_DB": parts.path.lstrip("/") or "atp"}
    if parts.password:
        out["POSTGRES_PASSWORD"] = unquote(parts.password)
    return out


def translate(old: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(ATP's variables, notes for the operator) from the old platform's variables."""
    new: dict[str, str] = {}
    notes: list[str] = []
    for name in KEPT:
        if old.get(name):
            new[name] = old[name]
    for was, now in RENAMED.items():
        if old.get(was) and now not in new:
            new[now] = old[was]
    if old.get("DATABASE_URL"):
        new.update(_database(old["DATABASE_URL"]))
    if old.get("USE_CRYPTO_PROXY", "").lower() in TRUE and old.get("CRYPTO_PROXY_URL"):
        new.setdefault("EXCHANGE_PROXY_URL", old["CRYPTO_PROXY_URL"])
    if old.get("RUN_TELEGRAM", "").lower() in {"0", "false", "no", "off"}:
        new["ALERTS_ENABLED"] = "false"
    origin = (old.get("RUNTIME_ORIGIN") or old.get("ENVIRONMENT") or "").lower()
    if origin:
        new["PRODUCTION"] = "true" if origin in PRODUCTION_NAMES else "false"
        new["INSTANCE_NAME"] = f"{origin}-prod" if origin in PRODUCTION_NAMES else origin
    if old.get("LIVE_TRADING", "").lower() in TRUE:
        notes.append("LIVE_TRADING=true: ATP keeps the live switch in its database; switch "
                     "it on in the dashboard (PUT /api/settings/live-trading) once checked")
    used = {*KEPT, *RENAMED, "DATABASE_URL", "USE_CRYPTO_PROXY", "CRYPTO_PROXY_URL",
            "RUN_TELEGRAM", "RUNTIME_ORIGIN", "ENVIRONMENT", "LIVE_TRADING"}
    dropped = sorted(k for k in old if k not in used)
    if dropped:
        notes.append("not used by ATP (dropped): " + ", ".join(dropped))
    if "POSTGRES_USER" in new and "POSTGRES_PASSWORD" not in new:
        notes.append("DATABASE_URL had no password: set POSTGRES_PASSWORD")
    return new, notes


def parse(text: str) -> dict[str, str]:
    """KEY=VALUE lines (comments, blanks and `export ` prefixes allowed; quotes removed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def render(new: dict[str, str], notes: list[str]) -> str:
    lines = ["# ATP settings moved from the old platform's .env (python -m atp.envmigrate)."]
    lines += [f"# NOTE: {n}" for n in notes]
    lines += [f"{k}={v}" for k, v in new.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m atp.envmigrate OLD.env > .env", file=sys.stderr)
        return 2
    try:
        text = open(argv[0], encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        print(f"{argv[0]}: {exc.strerror}; fix: pass the old platform's .env file",
              file=sys.stderr)
        return 2
    sys.stdout.write(render(*translate(parse(text))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
