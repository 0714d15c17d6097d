"""`atp run` refuses to start without what it needs (failure mode 5)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from atp.cli.main import app


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "ALERTS_ENABLED", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_refuses_without_telegram_and_names_both_fields():
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN: missing" in result.stderr
    assert "TELEGRAM_CHAT_ID: missing" in result.stderr
    assert "ALERTS_ENABLED=false" in result.stderr


def test_refuses_an_unmigrated_database(monkeypatch, tmp_path):
    monkeypatch.setenv("ALERTS_ENABLED", "false")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "atp db upgrade" in result.stderr
