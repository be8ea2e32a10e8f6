"""`sentitrade worker hyperopt` joins a study started by `sentitrade hyperopt --storage`:
it reads what to search from the study, and its trials land in the same study. On
Postgres two workers run at once, as on two machines."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv" / (
    "freqtrade_testdata")
needs_data = pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared data not found")


def _cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _start(cwd: Path, url: str, study: str) -> None:
    p = _cli(cwd, "hyperopt", "--data", str(TESTDATA), "--pairs", "ETH/BTC", "--strategy",
             "ema_rsi_cross", "--epochs", "8", "--batch", "4", "--min-trades", "0",
             "--oos-fraction", "0", "--storage", url, "--study", study, "--json")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    assert json.loads(out)["trials"] == 8


def _workers(cwd: Path, url: str, study: str, n: int, epochs: int) -> list[dict]:
    procs = [_cli(cwd, "worker", "hyperopt", "--storage", url, "--study", study, "--epochs",
                  str(epochs), "--jobs", "1", "--json") for _ in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out))
    return outs


@needs_data
def test_a_worker_joins_a_study_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _start(tmp_path, url, "s")
    [w] = _workers(tmp_path, url, "s", 1, 5)
    assert w["trials_run"] == 5 and w["trials_before"] == 8 and w["trials_in_study"] == 13
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert len(trials) == 13 and all(t.state.name == "COMPLETE" for t in trials)
    bad = _cli(tmp_path, "worker", "hyperopt", "--storage", url, "--study", "nope")
    _, err = bad.communicate(timeout=120)
    assert bad.returncode != 0 and "nope" in err and len(err.strip().splitlines()) == 1


@needs_data
@pytest.mark.postgres
def test_two_workers_at_once_on_postgres(tmp_path: Path, pg_url: str) -> None:
    # Optuna keeps its own schema (and its own alembic_version): a database of its own,
    # as a deployment would have, not the service's
    import sqlalchemy as sa

    name = f"optuna_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        study = "shared"
        _start(tmp_path, url, study)
        outs = _workers(tmp_path, url, study, 2, 6)
        assert [o["trials_run"] for o in outs] == [6, 6]
        trials = optuna.load_study(study_name=study, storage=url).trials
        assert len(trials) == 20 and all(t.state.name == "COMPLETE" for t in trials)
        assert len({t.number for t in trials}) == 20
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
