"""`sentitrade run` in paper mode on the fake exchange's WEBSOCKET streams
(``[exchange] stream = true``), as a subprocess, on Binance's 1s candles so that a
couple of dozen candles close in seconds:

the test publishes Binance kline updates in real time (each second's final update,
then the next candle's first), drops every connection, then stalls the stream past
`stale_seconds`; the service must hand its strategy every candle once and in order
(the ones the stream missed come over REST, with the same values: the fake's candles
are a deterministic walk), and a +20 % move in the streamed trades must trip the
price-spike breaker (a risk_events row in the service's database)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.engine.test_paper_run import _start, _wait_for
from tests.fakes.binance_ws import FakeBinanceWS
from tests.fakes.exchange_server import FakeBinance, walk_kline

STEP = 1_000

STRATEGY = '''
from engine.strategy import Strategy


class Tape(Strategy):
    """Writes the close time of every candle it is asked about; never trades."""

    timeframe = "1s"
    stoploss = -0.5

    def populate_indicators(self, frame, metadata):
        with open(SEEN, "a") as fh:
            fh.write(f"{int(frame['close_time'][-1])}\\n")
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"] < 0
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_long"] = frame["close"] < 0
        return frame
'''


def _config(tmp: Path, rest: str, ws: str) -> Path:
    cfg = tmp / "stream.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp / 'stream.db'}"
[exchange]
id = "binance"
mode = "paper"
api_url = "{rest}"
ws_url = "{ws}"
stream = true
stale_seconds = 2
reconnect_max_seconds = 1
book_depth = 0
start_retries_s = [0.5]
[approvals]
mode = "auto"
[engine]
tick_delay_seconds = 1
history_candles = 30
strategy_path = "{tmp / 'strategies'}"
[security]
key_file = "{tmp / 'master.key'}"
[sentiment]
sources = []
[[bots]]
name = "tape"
strategy = "Tape"
symbols = ["BTC/USDT"]
timeframe = "1s"
""")
    return cfg


class Publisher:
    """Binance's 1s kline stream in real time: at each second, the last update of the
    candle that closed (x = true), then the new candle's first update."""

    def __init__(self, ws: FakeBinanceWS) -> None:
        self.ws = ws
        self.task: asyncio.Task[None] | None = None

    async def _kline(self, open_ms: int, closed: bool) -> None:
        await self.ws.kline("BTCUSDT", "1s", open_ms, STEP,
                            walk_kline("BTCUSDT", open_ms, STEP), closed)
        await asyncio.sleep(0.02)  # ccxt hands a watcher one message per wake-up

    async def run(self) -> None:
        last = int(time.time() * 1000) // STEP * STEP
        while True:
            now = int(time.time() * 1000) // STEP * STEP
            if now > last:
                await self._kline(now - STEP, True)
                await self._kline(now, False)
                last = now
            await asyncio.sleep(0.02)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


@pytest.mark.timeout(120)
async def test_run_on_websocket_streams_through_a_drop_and_a_stall(tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    seen = tmp_path / "seen.txt"
    (tmp_path / "strategies" / "tape.py").write_text(f"SEEN = {str(seen)!r}\n" + STRATEGY)
    rest = FakeBinance(prices={"BTCUSDT": Decimal("100")})
    rest.walk = True
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    pub = Publisher(ws)
    log = tmp_path / "run.log"
    db = tmp_path / "stream.db"
    proc = await _start(_config(tmp_path, rest.url, ws.url), log)
    pub.task = asyncio.create_task(pub.run())

    def lines() -> list[int]:
        return [int(x) for x in seen.read_text().split()] if seen.exists() else []

    try:
        await _wait_for(lambda: "acting on candles closing from now on" in log.read_text(
            errors="replace"), 60, "the warm start")
        await _wait_for(lambda: ws.subscribed("btcusdt@kline_1s"), 10, "the subscription")
        n, k0 = len(lines()), rest.requests.count("GET /api/v3/klines")
        await _wait_for(lambda: len(lines()) >= n + 4, 10, "candles from the stream")
        quiet_rest = rest.requests.count("GET /api/v3/klines") - k0
        connects = ws.connects
        await ws.drop()  # a network cut: ccxt reconnects, REST fills what it missed
        await _wait_for(lambda: ws.connects > connects, 10, "the reconnect")
        n = len(lines())
        await _wait_for(lambda: len(lines()) >= n + 3, 10, "candles after the drop")
        ws.stall = True  # connections open, nothing sent: stale after 2 s
        await asyncio.sleep(4)
        ws.stall = False
        n = len(lines())
        await _wait_for(lambda: len(lines()) >= n + 3, 10, "candles after the stall")
        # a +20 % move within seconds in the streamed trades trips the spike breaker
        await _wait_for(lambda: ws.subscribed("btcusdt@trade"), 10, "the trade stream")
        now = int(time.time() * 1000)
        await ws.trade("BTCUSDT", 100.0, 1.0, now)
        await asyncio.sleep(0.05)
        await ws.trade("BTCUSDT", 120.0, 1.0, now + 1_000)
        await _wait_for(lambda: _rows(db, "select rule from risk_events where rule = "
                                          "'price_spike'"), 10, "the price-spike trip")
    finally:
        pub.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pub.task
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
        await ws.stop()
        await rest.stop()
    text = log.read_text(errors="replace")
    got = lines()
    assert len(got) >= 10, text[-3000:]
    # every candle once, in order, none missing: through the drop and the stall
    assert got == list(range(got[0], got[-1] + STEP, STEP)), (got, text[-3000:])
    assert "stale" in text.lower()  # the stall was noticed (and the stream reset)
    # before the drop the candles came over the stream: REST was not asked for them
    assert quiet_rest <= 1, quiet_rest
    assert "Traceback" not in text, text[-3000:]


def test_second_candles_tick_half_a_candle_after_each_close() -> None:
    from datetime import UTC, datetime

    from engine.service.scheduler import candle_close_trigger

    t = candle_close_trigger("1s")
    now = datetime.now(UTC)
    first = t.get_next_fire_time(None, now)
    assert first is not None and first.microsecond == 500_000 and first > now
    nxt = t.get_next_fire_time(first, first)
    assert nxt is not None and (nxt - first).total_seconds() == 1.0
