"""`sentitrade db doctor`: explains the schema's state; repairs only an empty partial one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from bot.db_cli import db_doctor
from engine.errors import ConfigError
from engine.storage import migrate
from engine.storage.db import make_engine
from engine.storage.models import ALL_TABLES

app = typer.Typer()
app.command()(db_doctor)


def _partial(url: str, rows: bool = False) -> None:
    """What a kill left behind before upgrades were one transaction: some tables, no version."""
    eng = make_engine(url)
    with eng.begin() as c:
        for table in ALL_TABLES.sorted_tables[:3]:
            table.create(c)
        if rows:
            c.execute(ALL_TABLES.tables["balances"].insert().values(account="paper",
                                                                   asset="USDT"))
    eng.dispose()


def _run(url: str, *args: str, input: str | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args), env={"SENTITRADE_DATABASE__URL": url},
                             input=input)
    return res.exit_code, res.output


def test_states_and_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/d.db"
    assert migrate.diagnose(url).state == "empty"
    migrate.upgrade(url)
    found = migrate.diagnose(url)
    assert (found.state, found.revision, found.missing) == ("current", found.head, ())
    code, out = _run(url)
    assert code == 0 and "state: current" in out and "what to do: nothing" in out
    assert migrate.diagnose("postgresql://u:pw@127.0.0.1:1/x").state == "unreachable"


def test_partial_schema_explained_then_repaired_with_confirmation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    _partial(url)
    code, out = _run(url)
    assert code == 1
    assert "state: partial" in out and "missing tables:" in out and "--repair" in out
    code, out = _run(url, "--repair", input="n\n")
    assert code != 0 and migrate.diagnose(url).state == "partial"  # refused: untouched
    code, out = _run(url, "--repair", input="y\n")
    assert code == 0, out
    assert "repaired: state current" in out
    migrate.check(url)


def test_partial_schema_with_data_is_never_dropped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/q.db"
    _partial(url, rows=True)
    found = migrate.diagnose(url)
    assert found.state == "unknown" and not found.repairable
    with pytest.raises(ConfigError):
        migrate.repair(url)
    code, _ = _run(url, "--repair", "--yes")
    assert code != 0
    eng = make_engine(url)
    with eng.connect() as c:
        assert len(sa.inspect(c).get_table_names()) == 3
    eng.dispose()
