"""Settings: every bad field named with its fix; secrets never printed."""

from __future__ import annotations

import pytest

from atp.config import SettingsError, load_settings, require


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DATABASE_URL", "API_PORT", "EXCHANGE_API_KEY", "EXCHANGE_API_SECRET",
                 "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "CANDLE_TIMEFRAME"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_load():
    s = load_settings()
    assert s.database_url.startswith("sqlite:///") and s.api_port == 8002


def test_every_bad_field_listed_with_fix(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "not-a-url")
    monkeypatch.setenv("API_PORT", "99999")
    monkeypatch.setenv("CANDLE_TIMEFRAME", "7m")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = err.value.render()
    assert "DATABASE_URL: not a database URL; fix: set DATABASE_URL to" in text
    assert "API_PORT:" in text and "fix: set API_PORT" in text
    assert "CANDLE_TIMEFRAME:" in text
    assert len(err.value.problems) == 3


def test_postgres_url_gets_the_shipped_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db:5432/atp")
    assert load_settings().database_url.startswith("postgresql+psycopg://")


def test_unsupported_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://u@h/db")
    with pytest.raises(SettingsError, match="unsupported database 'mysql'"):
        load_settings()


def test_secrets_never_printed(monkeypatch):
    canary = "CANARY-secret-7f3a"
    monkeypatch.setenv("EXCHANGE_API_KEY", canary)
    monkeypatch.setenv("EXCHANGE_API_SECRET", canary)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", canary)
    monkeypatch.setenv("API_PORT", "nope")  # force an error that renders the settings
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert canary not in err.value.render()
    monkeypatch.setenv("API_PORT", "8002")
    s = load_settings()
    assert canary not in repr(s) and canary not in str(s.model_dump())


def test_key_without_secret_is_an_error(monkeypatch):
    monkeypatch.setenv("EXCHANGE_API_KEY", "k")
    with pytest.raises(SettingsError, match="must be set together"):
        load_settings()


def test_require_lists_missing_fields():
    with pytest.raises(SettingsError) as err:
        require(load_settings(), "telegram_bot_token", "telegram_chat_id")
    assert [p[0] for p in err.value.problems] == ["TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"]


def test_env_example_documents_every_field():
    from pathlib import Path

    from atp.config import Settings

    lines = (Path(__file__).resolve().parents[2] / ".env.example").read_text().splitlines()
    for name in Settings.model_fields:
        key = f"{name.upper()}="
        index = next((i for i, line in enumerate(lines) if line.startswith(key)), None)
        assert index is not None, f"{key} missing from .env.example"
        assert lines[index - 1].startswith("# "), f"{key} has no comment"


def test_copied_env_example_with_empty_values_loads(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    s = load_settings()
    assert s.exchange_api_key is None and not s.has_exchange_credentials
    assert s.exchange_base_url is None
