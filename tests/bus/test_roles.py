"""The service split by role on real Redis + Postgres: a collector, two engine workers
and the chat process (`python -m bot.cli run --role ...`, the commands the compose file
runs) over a replay end with exactly the trades, orders and alerts of the single
process (`run --role all`), even though one worker is SIGKILLed mid-run: its bots move
to the other worker, with no order or alert lost or doubled."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.backtest._paths import shared_data
from engine.storage.db import make_engine

TESTDATA = shared_data() / "ohlcv" / "freqtrade_testdata"
PAIRS = ["ETH/BTC", "LTC/BTC", "ADA/BTC", "XMR/BTC"]
ROWS = 400  # candles per pair (~1.4 days of 5m): the replay's steps
ROOT = Path(__file__).resolve().parents[2]
# the commands of deploy/docker-compose.yml (tests/bus/test_deploy.py checks they match)
COMMANDS = {
    "migrate": ["db", "upgrade"],
    "collector": ["run", "--role", "collector"],
    "engine": ["run", "--role", "engine"],
    "chat": ["run", "--role", "chat"],
    "api": ["run", "--role", "api"],
}


@pytest.fixture
def databases() -> Iterator[Any]:
    base = os.environ.get("SENTITRADE_TEST_PG_URL")
    if not base:
        if os.environ.get("SENTITRADE_REQUIRE_PG"):
            pytest.fail("SENTITRADE_REQUIRE_PG is set but SENTITRADE_TEST_PG_URL is not")
        pytest.skip("no PostgreSQL: run `eval \"$(scripts/pg_tmp.sh start)\"` first")
    admin = sa.create_engine(make_engine(base).url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(n: str) -> str:
        name = f"st_roles_{os.getpid()}_{n}"
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_engine(base).url.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as c:
            for n in made:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
        admin.dispose()


def _data(tmp: Path) -> Path:
    out = tmp / "data"
    out.mkdir()
    for p in PAIRS:
        name = p.replace("/", "_") + "-5m.csv"
        lines = (TESTDATA / name).read_text().splitlines()[: ROWS + 1]
        (out / name).write_text("\n".join(lines) + "\n")
    return out


def _config(tmp: Path, name: str, db: str, data: Path, bus: str) -> Path:
    bots = "".join(
        f'[[bots]]\nname = "b{i}"\nstrategy = "ema_rsi_cross"\nsymbols = ["{p}"]\n'
        f'timeframe = "5m"\n\n' for i, p in enumerate(PAIRS))
    text = f"""
[database]
url = "{db}"
[exchange]
mode = "replay"
replay_data = "{data}"
quote = "BTC"
starting_balance = "1000000"
maker_fee = "0.001"
taker_fee = "0.001"
slippage_bps = 0
[approvals]
mode = "auto"
[risk]
sizing = "fixed_stake"
stake_amount = "0.05"
max_position_pct = 100
max_total_exposure_pct = 1000
max_asset_exposure_pct = 1000
max_trades_per_day = 1000000
max_open_trades = 1000000
daily_loss_pct = 100
drawdown_pause_pct = 100
drawdown_stop_pct = 100
price_spike_pct = 1e9
[bus]
url = "{bus}"
lease_seconds = 4
{bots}"""
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env.update(more)
    env["PYTHONPATH"] = str(ROOT)
    env["SENTITRADE_MASTER_KEY"] = "9Rr0QwXk0cM4w8Hb8H1c3N0mJj0cQ4bqv5o3c2xg7yE="
    return env


def _start(args: list[str], cfg: Path, log: Path, *extra: str,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args, "--config", str(cfg),
                             *extra], cwd=ROOT, env=_env(**(env or {})), stdin=subprocess.DEVNULL,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait(p: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail(f"{p.args!r} did not finish:\n" + log.read_text()[-3000:])
    assert rc == 0, log.read_text()[-3000:]


_IDS = re.compile(r"#\d+|\bst-p\d+(?:-\d+)*")  # proposal numbers, client order ids


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in sorted(v.items())
                if not (k == "id" or k.endswith("_id") or k in ("ts_init", "event_id"))}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, str):
        return _IDS.sub("#", v)
    return v


def _state(url: str) -> dict[str, list[str]]:
    """Trades, orders and alerts with their ids taken out (ids depend on which process
    wrote first), each bot named: sorted, so two runs compare as multisets."""
    eng = make_engine(url)
    out: dict[str, list[str]] = {}
    with eng.connect() as c:
        bots: dict[int, str] = {int(i): str(n) for i, n in
                                c.execute(sa.text("SELECT id, name FROM bots")).all()}
        for table, cols in (
            ("trades", "bot_id, symbol, open_at, close_at, open_price, close_price, amount, "
                       "exit_reason, is_open"),
            ("orders", "bot_id, symbol, side, type, amount, price, filled, average_price, "
                       "fee, state, created_at"),
        ):
            rows = c.execute(sa.text(f"SELECT {cols} FROM {table}")).all()
            out[table] = sorted(repr((bots.get(r[0]), *r[1:])) for r in rows)
        rows = c.execute(sa.text("SELECT kind, payload, ts_event FROM outbox")).all()
        out["alerts"] = sorted(json.dumps([r[0], _norm(r[1]), str(r[2])], sort_keys=True)
                               for r in rows)
    eng.dispose()
    return out


def _delivered(path: Path) -> list[str]:
    return [json.loads(line)["event_id"] for line in path.read_text().splitlines() if line]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared data not found")
def test_roles_match_one_process_through_a_worker_kill(tmp_path: Path, redis_url: str,
                                                       databases: Any) -> None:
    import redis

    data = _data(tmp_path)
    base = redis_url.rsplit("/", 1)[0]
    db_one, db_multi = databases("one"), databases("multi")
    one = _config(tmp_path, "one", db_one, data, "")
    multi = _config(tmp_path, "multi", db_multi, data, base + "/5")
    r = redis.Redis.from_url(base + "/5")
    r.flushdb()

    # the single process, beside the same service split by role
    log1 = tmp_path / "one.log"
    single = _start(["run"], one, log1, "--alerts-file", str(tmp_path / "one.jsonl"))
    up = tmp_path / "up.log"
    _wait(_start(COMMANDS["migrate"], multi, up), up, 60)
    logs = {n: tmp_path / f"{n}.log" for n in ("w1", "w2", "chat", "collector", "api")}
    port = _free_port()
    api = _start(COMMANDS["api"], multi, logs["api"],
                 env={"SENTITRADE_API__ENABLED": "true", "SENTITRADE_API__PORT": str(port)})
    w1 = _start(COMMANDS["engine"], multi, logs["w1"], "--worker-id", "w1")
    w2 = _start(COMMANDS["engine"], multi, logs["w2"], "--worker-id", "w2")
    chat = _start(COMMANDS["chat"], multi, logs["chat"],
                  "--alerts-file", str(tmp_path / "multi.jsonl"))
    col = _start(COMMANDS["collector"], multi, logs["collector"])
    procs = [single, w1, w2, chat, col, api]
    try:
        deadline = time.monotonic() + 300  # generous: CI machines may be busy
        while int(r.xlen("market_steps")) < ROWS // 3:  # a third of the replay done
            assert time.monotonic() < deadline, logs["collector"].read_text()[-2000:]
            assert col.poll() is None, logs["collector"].read_text()[-2000:]
            time.sleep(0.05)
        # the victim: whichever worker holds b0 now (a stalled one may have lost all)
        victim = _owner(db_multi, "b0")
        survivor = "w2" if victim == "w1" else "w1"
        mine = _owned(db_multi, victim)
        os.kill({"w1": w1, "w2": w2}[victim].pid, signal.SIGKILL)
        {"w1": w1, "w2": w2}[victim].wait(10)
        for name, p in (("collector", col), (survivor, {"w1": w1, "w2": w2}[survivor]),
                        ("chat", chat)):
            _wait(p, logs[name], 300)
        _wait(single, log1, 300)
        # the API process serves the same store of record until it is stopped
        assert api.poll() is None, logs["api"].read_text()[-2000:]
        _get_ok(f"http://127.0.0.1:{port}/metrics", logs["api"])
        api.send_signal(signal.SIGTERM)
        _wait(api, logs["api"], 30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)

    assert mine, f"{victim} owned no bot when it was killed: " + logs[victim].read_text()[-2000:]
    taken = logs[survivor].read_text()
    assert all(re.search(rf"takes bots .*\b{b}\b", taken) for b in mine), taken[-3000:]

    a, b = _state(db_one), _state(db_multi)
    assert a["trades"] and a["orders"] and a["alerts"]
    assert b["trades"] == a["trades"]
    assert b["orders"] == a["orders"]
    assert b["alerts"] == a["alerts"]
    one_sent, multi_sent = _delivered(tmp_path / "one.jsonl"), _delivered(tmp_path / "multi.jsonl")
    assert len(multi_sent) == len(set(multi_sent)) == len(a["alerts"]) == len(one_sent)


def _owned(url: str, worker: str) -> list[str]:
    eng = make_engine(url)
    with eng.connect() as c:
        rows = c.execute(sa.text("SELECT name FROM bot_leases WHERE owner = :w AND "
                                 "name LIKE 'b%'"), {"w": worker}).all()
    eng.dispose()
    return [row[0] for row in rows]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_ok(url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while True:
        try:
            assert httpx.get(url, timeout=2).status_code == 200
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)


def _owner(url: str, bot: str) -> str:
    eng = make_engine(url)
    with eng.connect() as c:
        owner = c.execute(sa.text("SELECT owner FROM bot_leases WHERE name = :b"),
                          {"b": bot}).scalar_one()
    eng.dispose()
    return str(owner)
