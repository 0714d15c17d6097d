"""`atp db …` as a user runs it.

The two acceptance cases run the real console script in a clean directory; the rest use the
same Typer app in-process (a subprocess costs ~2 s of imports on a small machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atp.cli.main import app
from atp.store import migrate

ATP = str(Path(sys.executable).with_name("atp"))


def run_atp(*args: str, cwd: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    # cwd=tmp_path: no stray .env is read; the URL comes only from the environment.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [ATP, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


@pytest.fixture
def atp_inproc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, database_url: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", database_url)
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_upgrade_with_the_console_script(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atp.db'}"
    result = run_atp("db", "upgrade", cwd=tmp_path, database_url=url)
    assert result.returncode == 0, result.stderr
    assert f"revision {migrate.head()}" in result.stdout
    assert migrate.current(url) == migrate.head()


def test_invalid_database_url_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    result = run_atp("db", "upgrade", cwd=tmp_path, database_url="not-a-url")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "fix:" in result.stderr and "sqlite:///" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_upgrade_current_downgrade(db_url: str, atp_inproc) -> None:
    code, out, err = atp_inproc("db", "current", database_url=db_url)
    assert code == 0, err
    assert "base (empty)" in out and "run `atp db upgrade`" in out

    for _ in range(2):  # the second run finds nothing to do
        code, out, err = atp_inproc("db", "upgrade", database_url=db_url)
        assert code == 0, err
        assert f"revision {migrate.head()}" in out

    code, out, err = atp_inproc("db", "current", database_url=db_url)
    assert code == 0 and "up to date" in out, err

    code, out, err = atp_inproc("db", "downgrade", "base", database_url=db_url)
    assert code == 0, err
    assert migrate.current(db_url) is None


def test_unreachable_database_is_one_clear_line_with_the_password_hidden(atp_inproc) -> None:
    url = "postgresql://atp:s3cret-pw@127.0.0.1:1/atp"  # nothing listens on port 1
    code, out, err = atp_inproc("db", "upgrade", database_url=url)
    assert code == 2
    assert "s3cret-pw" not in out + err
    assert "127.0.0.1:1" in err and "fix:" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_sqlite_directory_says_so(atp_inproc, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'atp.db'}"
    code, _, err = atp_inproc("db", "upgrade", database_url=url)
    assert code == 2
    assert "directory" in err and "fix:" in err


def test_unknown_revision_is_reported_not_raised(atp_inproc, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atp.db'}"
    code, _, err = atp_inproc("db", "downgrade", "9999", database_url=url)
    assert code == 2
    assert "9999" in err
