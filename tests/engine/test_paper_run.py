"""`sentitrade run` in paper mode, end to end, against the loopback fake of Binance (the
real ccxt client with its URLs rewritten by `exchange.api_url`), in real time on 1m
candles (about two minutes):

start -> the strategy is warmed with past candles and ignores a signal among them ->
a candle closing after the start makes a proposal -> approved (auto) -> paper fill ->
SIGKILL -> an exit signal closes while the service is down -> restart -> no duplicate
order, and the candle that closed before the restart is not acted on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.exchange_server import FakeBinance

REPO = Path(__file__).resolve().parents[2]
STEP = 60_000

STRATEGY = '''
from engine.strategy import Strategy, shift


class Jump(Strategy):
    """Enter after a candle up more than 2 %, exit after one down more than 2 %."""

    timeframe = "1m"
    stoploss = -0.5

    def populate_indicators(self, frame, metadata):
        frame["move"] = frame["close"] / shift(frame["close"]) - 1.0
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["move"] > 0.02
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_long"] = frame["move"] < -0.02
        return frame
'''


def _config(tmp: Path, url: str) -> Path:
    cfg = tmp / "paper.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp / 'paper.db'}"
[exchange]
id = "binance"
mode = "paper"
api_url = "{url}"
start_retries_s = [0.5]
slippage_bps = 0
[approvals]
mode = "auto"
[risk]
sizing = "fixed_stake"
stake_amount = 100
[engine]
tick_delay_seconds = 1
history_candles = 60
strategy_path = "{tmp / 'strategies'}"
[security]
key_file = "{tmp / 'master.key'}"
[sentiment]
sources = []
[[bots]]
name = "paper"
strategy = "Jump"
symbols = ["BTC/USDT"]
timeframe = "1m"
""")
    return cfg


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


async def _start(cfg: Path, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env["PYTHONPATH"] = str(REPO)
    fh = log.open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--config", str(cfg), cwd=str(REPO), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=fh)


async def _wait_for(pred: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_run_in_paper_mode_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "jump.py").write_text(STRATEGY)
    fake = FakeBinance(prices={"BTCUSDT": Decimal("60000")})
    url = await fake.start()
    db, log = tmp_path / "paper.db", tmp_path / "run.log"
    now = int(time.time() * 1000)
    minute = now - now % STEP
    series = fake.candles.setdefault("BTCUSDT", {})
    # the history: flat at 60,000, then a +3 % candle ten minutes ago (acting on it would
    # be acting late), flat at 61,800 since (the fake's price for unscripted candles)
    for k in range(-80, -10):
        series[minute + k * STEP] = (60000.0, 60000.0, 60000.0, 60000.0, 1.0)
    series[minute - 10 * STEP] = (60000.0, 61900.0, 60000.0, 61800.0, 5.0)
    fake.prices["BTCUSDT"] = Decimal("61800")
    cfg = _config(tmp_path, url)
    proc = await _start(cfg, log)
    try:
        await _wait_for(lambda: "acting on candles closing from now on" in log.read_text(
            errors="replace"), 90, "the warm start")
        assert _rows(db, "select count(*) from orders") == [(0,)]  # the old jump: no action
        # once it listens: the first candle closing 5 s from now jumps +3 %, the next one
        # falls 5 % (an exit signal, which closes while the service is down)
        now = int(time.time() * 1000)
        jump = -(-(now + 5_000) // STEP) * STEP - STEP
        series[jump] = (61800.0, 63700.0, 61800.0, 63654.0, 5.0)
        series[jump + STEP] = (63654.0, 63654.0, 60400.0, 60471.3, 5.0)
        for k in range(2, 8):
            series[jump + k * STEP] = (60471.3, 60471.3, 60471.3, 60471.3, 1.0)
        await _wait_for(lambda: _rows(db, "select count(*) from fills") == [(1,)],
                        (jump + 2 * STEP - time.time() * 1000) / 1000 + 15, "the entry fill")
        [(side, state)] = _rows(db, "select side, state from orders")
        assert (side, state) == ("buy", "filled")
        [(price,)] = _rows(db, "select price from fills")
        assert float(price) == 63654.0  # the paper fill: the last price, the jump's close
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # the exit candle closes while the service is down
        down_until = (jump + 2 * STEP) / 1000 + 2
        await asyncio.sleep(max(0.0, down_until - time.time()))
        proc = await _start(cfg, log)
        await _wait_for(lambda: log.read_text(errors="replace").count(
            "acting on candles closing from now on") == 2, 90, "the restart")
        await asyncio.sleep(3)
        orders = _rows(db, "select client_order_id, side, state from orders")
        assert len(orders) == 1, orders  # no duplicate, no exit on the candle before the start
        assert _rows(db, "select count(*) from trades where is_open = 1") == [(1,)]
        assert _rows(db, "select count(*) from signals") == [(1,)]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
        await fake.stop()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


async def test_an_exchange_that_does_not_answer_stops_the_start_with_one_line(
        tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "jump.py").write_text(STRATEGY)
    cfg = _config(tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    log = tmp_path / "run.log"
    proc = await _start(cfg, log)
    rc = await asyncio.wait_for(proc.wait(), 120)
    text = log.read_text(errors="replace")
    assert rc != 0
    assert "does not answer" in text and 'mode = "replay"' in text
    assert "Traceback" not in text, text[-2000:]
