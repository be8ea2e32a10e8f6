from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_the_contract_commands() -> None:
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("run", "demo", "db", "config", "bench"):
        assert cmd in r.output


@pytest.mark.usefixtures("clean_env")
def test_db_upgrade_creates_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTITRADE_DATABASE__URL", f"sqlite:///{tmp_path}/x/s.db")
    r = CliRunner().invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    import sqlite3

    tables = {n for (n,) in sqlite3.connect(tmp_path / "x" / "s.db").execute(
        "select name from sqlite_master where type='table'")}
    assert {"orders", "fills", "proposals", "outbox", "credentials", "alembic_version"} <= tables


def test_demo_runs_offline_and_is_idempotent(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env["SENTITRADE_DATABASE__URL"] = f"sqlite:///{tmp_path}/demo.db"
    env["SENTITRADE_SECURITY__KEY_FILE"] = str(tmp_path / "master.key")
    cmd = [sys.executable, "-m", "bot.cli", "demo", "--json"]
    first = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    a = json.loads(first.stdout)
    second = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    b = json.loads(second.stdout)
    assert a and b
    import sqlite3

    con = sqlite3.connect(tmp_path / "demo.db")
    n_news = con.execute("select count(*) from news_items").fetchone()[0]
    n_sig = con.execute("select count(*) from signals").fetchone()[0]
    assert n_news == 48 and n_sig > 0
    # a second run adds no duplicate rows
    dup = con.execute("select count(*) from (select symbol, ts, bot_id, count(*) c from signals "
                      "group by symbol, ts, bot_id having c > 1)").fetchone()[0]
    assert dup == 0
