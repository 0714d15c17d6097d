"""The old platform's `.env` moved to ATP's names (README's table): renamed, derived,
dropped by name only, and the CLI form on a real file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from atp.envmigrate import parse, translate

OLD = """# old platform
DATABASE_URL=postgresql://trader:s%40cret@db:5432/atp
EXCHANGE_CUSTOM_API_KEY=k-123
export EXCHANGE_CUSTOM_API_SECRET="s-456"
TELEGRAM_BOT_TOKEN=1:abc
TELEGRAM_CHAT_ID=-100
USE_CRYPTO_PROXY=true
CRYPTO_PROXY_URL=http://127.0.0.1:9000
RUN_TELEGRAM=false
RUNTIME_ORIGIN=AWS
LIVE_TRADING=true
REDIS_URL=redis://localhost:6379
NOTION_API_KEY=secret_notion_value
"""


def test_translate_renames_derives_and_drops() -> None:
    new, notes = translate(parse(OLD))
    assert new == {
        "TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_CHAT_ID": "-100",
        "EXCHANGE_API_KEY": "k-123", "EXCHANGE_API_SECRET": "s-456",
        "POSTGRES_USER": "trader", "POSTGRES_DB": "atp", "POSTGRES_PASSWORD": "s@cret",
        "EXCHANGE_PROXY_URL": "http://127.0.0.1:9000", "ALERTS_ENABLED": "false",
        "PRODUCTION": "true", "INSTANCE_NAME": "aws-prod",
    }
    assert any("live switch" in n for n in notes)
    dropped = next(n for n in notes if n.startswith("not used by ATP"))
    assert "NOTION_API_KEY, REDIS_URL" in dropped
    assert "secret_notion_value" not in " ".join(notes)  # names only, never values


def test_sqlite_url_and_missing_password() -> None:
    assert translate({"DATABASE_URL": "sqlite:///x.db"})[0] == {"DATABASE_URL": "sqlite:///x.db"}
    _, notes = translate({"DATABASE_URL": "postgresql://u@db/atp"})
    assert "DATABASE_URL had no password: set POSTGRES_PASSWORD" in notes


def test_cli_writes_an_env_that_atp_loads(tmp_path: Path) -> None:
    old = tmp_path / "old.env"
    old.write_text(OLD)
    done = subprocess.run([sys.executable, "-m", "atp.envmigrate", str(old)],
                          capture_output=True, text=True, check=True, timeout=30)
    env = tmp_path / ".env"
    env.write_text(done.stdout)
    from atp.config import Settings

    settings = Settings(_env_file=str(env))  # type: ignore[call-arg]
    assert settings.exchange_api_key is not None
    assert settings.exchange_api_key.get_secret_value() == "k-123"
    assert settings.alerts_enabled is False and settings.production is True
    missing = subprocess.run([sys.executable, "-m", "atp.envmigrate", str(tmp_path / "no")],
                             capture_output=True, text=True, check=False, timeout=30)
    assert missing.returncode == 2 and "fix: pass the old platform's .env" in missing.stderr
