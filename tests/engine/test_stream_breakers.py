"""Breakers on live prices: trades streamed by ccxt.pro from the loopback Binance fake
trip the price-spike rule inside its window in seconds (resting orders cancelled,
pending entry proposals rejected); feed errors count toward the API-error breaker; a
stale stream pauses entries until it speaks again."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from engine.risk.live import SpikeWindow
from engine.service.engine import Engine
from engine.storage.models import Order, OrderState, Proposal, ProposalState, RiskEvent
from tests.engine.test_stream import Env, env, until  # noqa: F401  (the fixture)


def _resting_order_and_proposals(eng: Engine) -> tuple[int, int, int]:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        bot = eng.bots.get("b1")
        o = Order(client_order_id="rest-1", bot_id=bot.id, symbol="BTC/USDT", side="buy",
                  type="limit", amount=Decimal("0.01"), price=Decimal("59000"),
                  state=OrderState.OPEN, created_at=now, updated_at=now)
        ids = []
        for sym in ("BTC/USDT", "ETH/USDT"):
            p = Proposal(bot_id=bot.id, symbol=sym, side="buy", intent="enter",
                         amount=Decimal("0.01"), ref_price=Decimal("60000"),
                         notional=Decimal("600"), reasons=["test"], created_at=now,
                         expires_at=now + timedelta(minutes=5))
            s.add(p)
            ids.append(p)
        s.add(o)
        s.flush()
        return o.id or 0, ids[0].id or 0, ids[1].id or 0


async def test_a_spike_in_streamed_trades_cancels_orders_and_proposals(
        engine_factory: object, env: Env) -> None:  # noqa: F811
    eng: Engine = await engine_factory()  # type: ignore[operator]
    guard = eng.watch_feed(env.feed)
    order_id, btc_p, eth_p = _resting_order_and_proposals(eng)
    env.feed.watch_trades("BTC/USDT")
    await until(lambda: env.ws.subscribed("btcusdt@trade"), "the subscription")
    t0 = int(time.time() * 1000)
    # +6 % then +9 % over 50 s: under 10 % -> nothing; then 111 s later +12 % from a
    # price outside the 60 s window -> nothing either
    for dt, p in ((0, 60000.0), (30_000, 63600.0), (50_000, 65400.0), (161_000, 67000.0)):
        await env.ws.trade("BTCUSDT", p, 0.1, t0 + dt)
    await until(lambda: len(guard.windows.get("BTC/USDT", SpikeWindow(1)).prices) == 2
                or len(env.rec.ticks) >= 4, "the first trades")
    await asyncio.sleep(0.1)
    assert guard.trips == 0
    # 67,000 -> 74,000 within 20 s: +10.4 % -> trip
    await env.ws.trade("BTCUSDT", 74000.0, 0.1, t0 + 181_000)
    await until(lambda: guard.trips == 1, "the spike")
    await eng.feed_settled()
    with eng.sessions() as s:
        [ev] = s.exec(select(RiskEvent)).all()
        assert (ev.rule, ev.action, ev.detail["scope"]) == ("price_spike", "cancel_pending",
                                                           "BTC/USDT")
        assert abs(ev.measured - (74000 / 67000 - 1) * 100) < 1e-9
        assert s.get(Order, order_id).state == OrderState.CANCELED  # type: ignore[union-attr]
        assert s.get(Proposal, btc_p).state == ProposalState.REJECTED  # type: ignore[union-attr]
        assert s.get(Proposal, eth_p).state == ProposalState.PENDING  # type: ignore[union-attr]


async def test_feed_errors_count_toward_the_api_error_breaker(engine_factory: object) -> None:
    eng: Engine = await engine_factory()  # type: ignore[operator]

    class Feed:
        def __init__(self) -> None:
            self.listeners: list[object] = []

    guard = eng.watch_feed(Feed())
    t = [0.0]
    guard.monotonic = lambda: t[0]
    for stream in ("trades:BTC/USDT", "ohlcv:BTC/USDT:5m", "ticker:BTC/USDT"):
        guard.on_feed_error(stream, ConnectionResetError("dropped"))  # one line, 3 streams
    assert guard.errors_counted == 1
    for _ in range(eng.settings.risk.api_errors_per_minute):  # reconnects failing each 2 s
        t[0] += 2.0
        guard.on_feed_error("trades:BTC/USDT", ConnectionResetError("refused"))
    trips = await eng.risk_monitor()
    assert [t.rule for t in trips] == ["api_errors"]
    assert eng.risk_status().trading_state == "halted"


async def test_a_stale_stream_pauses_entries_until_it_recovers(
        engine_factory: object, env: Env) -> None:  # noqa: F811
    eng: Engine = await engine_factory()  # type: ignore[operator]
    eng.watch_feed(env.feed)
    env.feed.watch_ticker("BTC/USDT")
    await until(lambda: env.ws.subscribed("btcusdt@miniTicker"), "the subscription")
    env.ws.stall = True
    await until(lambda: env.rec.stale, "the stale alarm")
    await eng.feed_settled()
    assert eng.risk_status().trading_state == "reducing"  # entries paused, exits run
    env.ws.stall = False

    async def speak() -> None:
        while True:
            await env.ws.ticker("BTCUSDT", 60000.0, 59999.0, 60001.0)
            await asyncio.sleep(0.05)

    talker = asyncio.create_task(speak())
    try:
        await until(lambda: env.rec.recovered, "the recovery")
        await eng.feed_settled()
    finally:
        talker.cancel()
    assert eng.risk_status().trading_state == "active"
    with eng.sessions() as s:
        ev = s.exec(select(RiskEvent).where(RiskEvent.rule == "feed_stale")).one()
        assert ev.cleared_by == "feed"


def test_spike_window_matches_a_brute_force_scan() -> None:
    import random

    rng = random.Random(3)
    w = SpikeWindow(60_000)
    hist: list[tuple[int, float]] = []
    t, p = 0, 100.0
    for _ in range(3000):
        t += rng.randint(0, 5000)
        p *= 1 + rng.gauss(0, 0.01)
        got = w.add(t, p)
        hist.append((t, p))
        win = [q for ts, q in hist if ts >= t - 60_000]
        ref = win[0]
        want = max(abs(max(win) / ref - 1), abs(min(win) / ref - 1)) * 100 if len(win) > 1 else 0
        assert abs(got - want) < 1e-9
