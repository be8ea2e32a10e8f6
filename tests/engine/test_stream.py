"""Websocket streams through real ccxt.pro against loopback fakes of Binance (the
websocket protocol in tests/fakes/binance_ws.py, REST in exchange_server.py): trades,
tickers, order book snapshot + diffs, candle updates and closes, drops, stalls,
duplicates and out-of-order messages; no closed candle missed or doubled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from engine.data.exchange import rewrite_urls
from engine.data.stream import Backoff, StreamFeed, Tick
from tests.fakes.binance_ws import FakeBinanceWS, point_ws
from tests.fakes.exchange_server import FakeBinance, walk_kline

STEP = 60_000


class Recorder:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.errors: list[str] = []
        self.stale: list[str] = []
        self.recovered: list[str] = []

    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    def on_feed_error(self, stream: str, error: BaseException) -> None:
        self.errors.append(f"{stream}: {type(error).__name__}")

    def on_stale(self, stream: str, silent_s: float) -> None:
        self.stale.append(stream)

    def on_recovered(self, stream: str) -> None:
        self.recovered.append(stream)


class Env:
    def __init__(self, rest: FakeBinance, ws: FakeBinanceWS, feed: StreamFeed,
                 rec: Recorder, clock: list[int]) -> None:
        self.rest, self.ws, self.feed, self.rec, self.clock = rest, ws, feed, rec, clock


async def until(pred: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    import ccxt.pro as ccxtpro

    rest = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    rest.walk = True
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    now = int(time.time() * 1000) // STEP * STEP - 60 * STEP  # a fake clock in the past
    clock = [now]
    rest.now_ms = now
    ex = ccxtpro.binance({"enableRateLimit": False, "options": {
        "fetchCurrencies": False, "fetchMarkets": {"types": ["spot"]}}})
    rewrite_urls(ex, rest.url)
    point_ws(ex, ws.url)
    ex.milliseconds = lambda: clock[0]
    await ex.load_markets()
    rec = Recorder()
    feed = StreamFeed(ex, stale_seconds=1.5, backoff=Backoff(0.02, 0.1),
                      now_ms=lambda: clock[0])
    feed.listeners.append(rec)
    try:
        yield Env(rest, ws, feed, rec, clock)
    finally:
        await feed.close()
        await ex.close()
        await ws.stop()
        await rest.stop()


def set_now(e: Env, ms: int) -> None:
    e.clock[0] = ms
    e.rest.now_ms = ms


async def test_trades_once_each_despite_duplicates_and_reordering(env: Env) -> None:
    env.feed.watch_trades("BTC/USDT")
    env.feed.watch_ticker("ETH/USDT")
    await until(lambda: env.ws.subscribed("btcusdt@trade")
                and env.ws.subscribed("ethusdt@miniTicker"), "subscriptions")
    t0 = env.clock[0]
    p = FakeBinanceWS.trade_payload
    for tid, price in ((1, 100.0), (2, 101.0), (2, 101.0), (4, 103.0), (3, 102.0), (1, 100.0)):
        await env.ws.send_raw("btcusdt@trade", p("BTCUSDT", tid, price, 0.5, t0 + tid))
    await env.ws.ticker("ETHUSDT", 2500.0, 2499.0, 2501.0)
    await until(lambda: len(env.rec.ticks) >= 5, "ticks")
    await asyncio.sleep(0.1)
    trades = [t for t in env.rec.ticks if t.symbol == "BTC/USDT"]
    assert [t.trade_id for t in trades] == [1, 2, 4, 3]  # each once, as they came
    assert [t.price for t in trades] == [100.0, 101.0, 103.0, 102.0]
    assert env.feed.tickers["ETH/USDT"].price == 2500.0


async def test_order_book_snapshot_diffs_and_a_sequence_gap(env: Env) -> None:
    env.rest.books["BTCUSDT"] = (10, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.0)])
    env.ws.book_id["BTCUSDT"] = 10
    env.feed.watch_order_book("BTC/USDT")
    await until(lambda: "BTC/USDT" in env.feed.books, "the snapshot")
    assert env.feed.books["BTC/USDT"].bids[0] == (99.0, 1.0)
    await env.ws.depth("BTCUSDT", [(99.5, 3.0)], [(101.0, 0.0), (102.0, 4.0)])
    await until(lambda: env.feed.books["BTC/USDT"].nonce == 11, "the diff")
    top = env.feed.books["BTC/USDT"]
    assert top.bids[:2] == [(99.5, 3.0), (99.0, 1.0)] and top.asks == [(102.0, 4.0)]
    # a diff that skips update ids: the book cannot be trusted -> a fresh snapshot
    env.rest.books["BTCUSDT"] = (50, [(95.0, 7.0)], [(105.0, 7.0)])
    await env.ws.depth("BTCUSDT", [(90.0, 1.0)], [], first_id=30, last_id=30)
    await until(lambda: env.rec.errors, "the sequence error")
    env.ws.book_id["BTCUSDT"] = 50
    for _ in range(50):  # the resubscription asks REST again; diffs continue from 50
        if env.feed.books["BTC/USDT"].nonce and env.feed.books["BTC/USDT"].nonce >= 50:
            break
        await env.ws.depth("BTCUSDT", [], [(106.0, 1.0)])
        await asyncio.sleep(0.05)
    top = env.feed.books["BTC/USDT"]
    assert top.bids[0] == (95.0, 7.0) and (90.0, 1.0) not in top.bids


def kl(env: Env, open_ms: int) -> tuple[float, ...]:
    return walk_kline("BTCUSDT", open_ms, STEP)


async def test_candles_close_once_across_a_drop_with_the_gap_filled(env: Env) -> None:
    # ccxt.pro resolves a waiting watcher per message and keeps what arrives between two
    # calls for the next one: a candle's close is seen with the next update (Binance
    # pushes one every two seconds), so the test paces its messages
    real = env.ws.kline

    async def paced(*a: Any, **k: Any) -> int:
        n = await real(*a, **k)
        await asyncio.sleep(0.05)
        return n

    env.ws.kline = paced  # type: ignore[method-assign]
    base = env.clock[0]
    set_now(env, base + 10)
    env.feed.watch_candles("BTC/USDT", "1m")
    await until(lambda: env.ws.subscribed("btcusdt@kline_1m"), "the kline subscription")
    # candle 0: two updates then its close; candle 1 opens -> candle 0 is final
    o, h, lo, c, v = kl(env, base)
    await env.ws.kline("BTCUSDT", "1m", base, STEP, (o, o, o, o, 1.0), False)
    await env.ws.kline("BTCUSDT", "1m", base, STEP, (o, h, lo, c, v), True)
    await env.ws.kline("BTCUSDT", "1m", base, STEP, (o, h, lo, c, v), True)  # duplicate
    set_now(env, base + STEP + 10)
    await env.ws.kline("BTCUSDT", "1m", base + STEP, STEP, (c, c, c, c, 0.1), False)
    ledger = env.feed.ledgers[("BTC/USDT", "1m")]
    await until(lambda: ledger.last_ms == base + STEP, "candle 0")
    await env.ws.kline("BTCUSDT", "1m", base, STEP, (o, h, lo, c, v), True)  # late
    # the line drops; candles 1..3 close while it is down (REST knows them)
    await env.ws.drop()
    set_now(env, base + 4 * STEP + 10)
    await until(lambda: env.rec.recovered or env.ws.subscribed("btcusdt@kline_1m"),
                "the reconnection")
    await until(lambda: env.ws.subscribed("btcusdt@kline_1m"), "the resubscription")
    await env.ws.kline("BTCUSDT", "1m", base + 4 * STEP, STEP, kl(env, base + 4 * STEP),
                       False)
    set_now(env, base + 5 * STEP + 10)
    await env.ws.kline("BTCUSDT", "1m", base + 4 * STEP, STEP, kl(env, base + 4 * STEP), True)
    await env.ws.kline("BTCUSDT", "1m", base + 5 * STEP, STEP, kl(env, base + 5 * STEP),
                       False)
    await until(lambda: ledger.last_ms == base + 5 * STEP, "candle 4")
    closes = [b.close_ms for b in ledger.bars]
    assert closes == [base + k * STEP for k in range(1, 6)]  # none missed, none twice
    for b in ledger.bars:
        want = kl(env, b.close_ms - STEP)
        assert (b.open, b.high, b.low, b.close, b.volume) == pytest.approx(want)
    assert env.rec.errors and env.rec.recovered


async def test_an_impossible_streamed_candle_is_replaced_by_rest(env: Env) -> None:
    base = env.clock[0]
    set_now(env, base + 10)
    env.feed.watch_candles("BTC/USDT", "1m")
    await until(lambda: env.ws.subscribed("btcusdt@kline_1m"), "the subscription")
    ledger = env.feed.ledgers[("BTC/USDT", "1m")]
    ledger.last_ms = base  # as after a warm start
    await env.ws.kline("BTCUSDT", "1m", base, STEP, (100.0, 99.0, 98.0, 101.0, 1.0), True)
    await asyncio.sleep(0.05)
    set_now(env, base + STEP + 10)
    await env.ws.kline("BTCUSDT", "1m", base + STEP, STEP, (100.0, 100.0, 100.0, 100.0, 1.0),
                       False)
    await until(lambda: ledger.last_ms == base + STEP, "the candle")
    [bar] = list(ledger.bars)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == pytest.approx(
        kl(env, base))  # REST's candle, not the streamed one (high below the close)
    assert [a.kind for a in env.feed.alerts] == ["ohlc"]
    assert env.rec.errors == ["ohlcv:BTC/USDT:1m: ValueError"]


async def test_a_stalled_stream_is_detected_and_closes_come_from_rest(env: Env) -> None:
    base = env.clock[0]
    set_now(env, base + 10)
    bars = await env.feed.closed_bars("BTC/USDT", "1m", base)  # subscribes
    assert bars == []
    await until(lambda: env.ws.subscribed("btcusdt@kline_1m"), "the subscription")
    env.ws.stall = True
    await until(lambda: env.rec.stale, "the stale alarm", timeout=5)
    assert env.rec.stale[0] == "ohlcv:BTC/USDT:1m"
    # the candle closes with no message at all: the scheduler's call still gets it
    set_now(env, base + 2 * STEP + 5)
    bars = await env.feed.closed_bars("BTC/USDT", "1m", base)
    assert [b.close_ms for b in bars] == [base + STEP, base + 2 * STEP]
    again = await env.feed.closed_bars("BTC/USDT", "1m", base + 2 * STEP)
    assert again == []
    env.ws.stall = False
    await until(lambda: env.rec.recovered or env.ws.connects >= 2, "the reconnection")


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    import random

    b = Backoff(0.5, 8.0, 0.25, random.Random(7))
    waits = [b.wait(n) for n in range(1, 10)]
    assert all(0.375 <= w <= 0.625 for w in waits[:1])
    assert all(6.0 <= w <= 10.0 for w in waits[5:])
    assert len({round(w, 6) for w in waits}) == len(waits)  # jittered: no two alike


def test_seen_ids_drop_repeats_and_stay_bounded() -> None:
    from engine.data.stream import SeenIds

    s = SeenIds(keep=100)
    assert all(s.first("X", i) for i in range(1000))
    assert not s.first("X", 999) and not s.first("X", 950)  # repeats within the window
    assert s.first("Y", 999)  # per symbol
    assert len(s._seen["X"]) <= 200
