"""The data collector: providers by name, tick -> candle aggregation (close-time stamps,
closed by the clock, flat candles for empty periods) checked against a brute-force
grouping, validation alerts, raw retention, the Binance tape against the loopback
websocket fake (drops, duplicates, bad messages), and a 10-minute soak on a fast clock."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from datetime import UTC, datetime

import pytest

from engine.clock import ms_to_dt
from engine.data.aggregate import check_bar
from engine.data.candles import Bar, timeframe_ms
from engine.data.collector import DataCollector, register_provider
from engine.data.providers import tape
from engine.data.stream import Backoff, Tick
from engine.data.tape import TradeParser
from tests.fakes.binance_ws import FakeBinanceWS

T0 = int(datetime(2025, 10, 1, 9, 0, tzinfo=UTC).timestamp() * 1000)
TFS = ("1m", "5m", "15m", "1h", "4h", "1d")


def brute(ticks: list[Tick], tf: str) -> dict[int, tuple[float, ...]]:
    """Candles by grouping: close = ceil(ts / step) * step; (open, close]."""
    step = timeframe_ms(tf)
    out: dict[int, list[Tick]] = {}
    for t in ticks:
        out.setdefault(math.ceil(t.ts_ms / step) * step, []).append(t)
    return {k: (v[0].price, max(x.price for x in v), min(x.price for x in v), v[-1].price,
                sum(x.amount for x in v)) for k, v in out.items()}


def test_the_0905_candle_covers_0900_to_0905() -> None:
    now = [T0]
    c = DataCollector(("5m",), now_ms=lambda: now[0])
    c.add_symbols(["BTC/USDT"])
    for ts, p in ((T0 + 1, 10.0), (T0 + 300_000, 11.0), (T0 + 300_001, 12.0)):
        c.on_tick(Tick("BTC/USDT", ts, p, 1.0, ts))
    [bar] = c.candles[("BTC/USDT", "5m")]
    assert bar.ts == ms_to_dt(T0 + 300_000) and (bar.open, bar.close, bar.volume) == (
        10.0, 11.0, 2.0)


def test_random_ticks_match_brute_force_on_every_timeframe() -> None:
    rng = random.Random(11)
    ticks, t, p = [], T0, 100.0
    for i in range(20_000):
        t += rng.choice((0, 1, 500, 3_000, 40_000))
        p = round(p * (1 + rng.gauss(0, 0.002)), 6)
        ticks.append(Tick("BTC/USDT", t, p, round(rng.random(), 4), i))
    c = DataCollector(TFS, keep_candles=100_000)
    c.add_symbols(["BTC/USDT"])
    for tk in ticks:
        c.on_tick(tk)
    end = t + 86_400_000
    c.flush(end)
    for tf in TFS:
        want = brute(ticks, tf)
        got = {b.close_ms: (b.open, b.high, b.low, b.close, b.volume)
               for b in c.candles[("BTC/USDT", tf)]}
        traded = {k: v for k, v in got.items() if k in want}
        assert traded.keys() == want.keys()
        for k, v in want.items():
            assert traded[k] == pytest.approx(v), (tf, k)
        closes = sorted(got)
        step = timeframe_ms(tf)
        assert all(b - a == step for a, b in itertools.pairwise(closes))
        flat = [v for k, v in got.items() if k not in want]
        assert all(v[4] == 0.0 and v[0] == v[1] == v[2] == v[3] for v in flat)
    assert not c.alerts


def test_candles_close_by_the_clock_without_trades() -> None:
    c = DataCollector(("1m",))
    c.add_symbols(["ETH/USDT"])
    c.on_tick(Tick("ETH/USDT", T0 + 5_000, 2500.0, 1.0, 1))
    assert c.flush(T0 + 59_999) == 0
    assert c.flush(T0 + 60_000) == 1  # the close time itself closes it
    assert c.flush(T0 + 240_000) == 3  # three quiet minutes: three flat candles
    bars = list(c.candles[("ETH/USDT", "1m")])
    assert [b.close_ms - T0 for b in bars] == [60_000, 120_000, 180_000, 240_000]
    assert [b.volume for b in bars] == [1.0, 0.0, 0.0, 0.0]
    c.on_tick(Tick("ETH/USDT", T0 + 200_000, 2600.0, 1.0, 2))  # late: its minute closed
    assert c.builders["ETH/USDT"][0].late == 1


def test_validation_alerts() -> None:
    step = 60_000

    def bar(close: int, o: float = 1.0, h: float = 2.0, lo: float = 0.5,
            c: float = 1.5) -> Bar:
        return Bar("X/Y", "1m", ms_to_dt(close), o, h, lo, c, 1.0)

    assert check_bar(None, bar(step), step) is None
    assert check_bar(step, bar(2 * step), step) is None
    assert check_bar(2 * step, bar(2 * step), step).kind == "duplicate"  # type: ignore[union-attr]
    assert check_bar(step, bar(4 * step), step).kind == "gap"  # type: ignore[union-attr]
    assert check_bar(step, bar(2 * step, h=1.2), step).kind == "ohlc"  # type: ignore[union-attr]
    assert check_bar(step, bar(2 * step, c=float("nan")), step).kind == "ohlc"  # type: ignore[union-attr]
    c = DataCollector(("1m",))
    c.add_symbols(["X/Y"])
    got: list[str] = []
    c.alert_listeners.append(lambda a: got.append(a.kind))
    c.on_tick(Tick("X/Y", T0 + 1, -5.0, 1.0, 1))  # a negative price: never handed on
    c.flush(T0 + 60_000)
    assert got == ["ohlc"] and ("X/Y", "1m") not in c.candles


def test_raw_messages_are_kept_apart_for_the_retention() -> None:
    now = [T0]
    c = DataCollector(("1m",), raw_retention_s=30, now_ms=lambda: now[0])
    for k in range(60):
        now[0] = T0 + k * 1000
        c.on_raw("test", {"n": k})
    c.flush(now[0])
    assert len(c.raw) == 31 and c.raw.items[0][2] == {"n": 29}


def test_the_parser_reads_binance_payloads_and_rejects_junk() -> None:
    p = TradeParser(["BTC/USDT"])
    raw = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,'
           '"p":"60000.10","q":"0.5","T":1700000000123,"m":true,"M":true}}')
    assert p.parse(raw) == Tick("BTC/USDT", 1700000000123, 60000.10, 0.5, 7)
    assert p.parse(raw) is None  # the same trade id again
    assert p.parse("{not json") is None and p.parse('{"e":"trade"}') is None
    assert p.bad == 2


async def test_the_tape_provider_survives_drops_duplicates_and_junk() -> None:
    ws = FakeBinanceWS()
    await ws.start()
    register_provider("test-tape", tape(ws.url, backoff=Backoff(0.02, 0.1)))
    base = T0
    clock = [base + 10_000]  # the collector's clock: the test moves it
    c = DataCollector(("1m",), flush_interval_s=0.05, now_ms=lambda: clock[0])
    try:
        await c.start_collection(["BTC/USDT"], names=["test-tape"])
        tp = c.running["test-tape"]
        await tp.connected()  # type: ignore[attr-defined]
        pay = FakeBinanceWS.trade_payload
        for i, (dt, price) in enumerate(((1, 10.0), (2, 12.0), (3, 9.0))):
            await ws.send_raw("btcusdt@trade", pay("BTCUSDT", i + 1, price, 1.0, base + dt))
        await ws.send_raw("btcusdt@trade", pay("BTCUSDT", 2, 99.0, 1.0, base + 4))  # dup
        await ws.send_raw("btcusdt@trade", {"e": "trade", "s": "BTCUSDT"})  # junk
        deadline = time.monotonic() + 5
        while c.ticks < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await ws.drop()
        deadline = time.monotonic() + 5
        while tp.connects < 2 and time.monotonic() < deadline:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        await tp.connected()  # type: ignore[attr-defined]
        await ws.send_raw("btcusdt@trade", pay("BTCUSDT", 4, 11.0, 1.0, base + 61_000))
        deadline = time.monotonic() + 5
        while c.ticks < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        clock[0] = base + 120_000  # the second minute closes by the clock
        deadline = time.monotonic() + 5
        while len(c.candles.get(("BTC/USDT", "1m"), ())) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await c.stop()
        await ws.stop()
    bars = list(c.candles[("BTC/USDT", "1m")])
    assert (bars[0].close_ms, bars[0].open, bars[0].high, bars[0].low, bars[0].close,
            bars[0].volume) == (base + 60_000, 10.0, 12.0, 9.0, 9.0, 3.0)
    assert bars[1].close_ms == base + 120_000 and bars[1].close == 11.0
    assert c.ticks == 4 and len(c.raw) == 6  # raw: every message, junk and dup included
    assert tp.parser.bad == 1  # type: ignore[attr-defined]


def test_ten_minute_soak_on_a_fast_clock() -> None:
    """Ten minutes of 200 trades a second on three symbols, the clock driven by the
    test: every minute closes once per symbol, nothing is flagged, memory is bounded."""
    now = [T0]
    c = DataCollector(("1m", "5m"), raw_retention_s=5, keep_candles=100,
                      now_ms=lambda: now[0])
    syms = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    c.add_symbols(syms)
    rng = random.Random(5)
    tid = 0
    for sec in range(600):
        for k in range(200):
            tid += 1
            sym = syms[k % 3]
            ts = T0 + sec * 1000 + k * 5 + 1  # (09:00, 09:10]: ten 1m candles
            c.on_raw("soak", tid)
            c.on_tick(Tick(sym, ts, 100 + rng.random(), 0.01, tid))
        now[0] = T0 + (sec + 1) * 1000
        c.flush(now[0])
    for sym in syms:
        assert len(c.candles[(sym, "1m")]) == 10
        assert len(c.candles[(sym, "5m")]) == 2
    assert not c.alerts
    assert len(c.raw) <= 6 * 200  # five seconds kept (plus the current one)
    assert c.ticks == 600 * 200
