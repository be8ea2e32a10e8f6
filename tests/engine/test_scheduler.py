"""Scheduler wiring: aligned triggers, guarded jobs, the tick pipeline, bot persistence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlmodel import select

from engine.clock import ManualClock
from engine.service.engine import Engine
from engine.service.scheduler import EngineScheduler, candle_close_trigger, guarded
from engine.storage.models import BotState, OutboxMessage


def test_tick_trigger_aligned_to_candle_close() -> None:
    t = candle_close_trigger("5m", delay_s=3)
    nxt = t.get_next_fire_time(None, datetime(2025, 10, 1, 9, 1, 7, tzinfo=UTC))
    assert nxt == datetime(2025, 10, 1, 9, 5, 3, tzinfo=UTC)
    h4 = candle_close_trigger("4h").get_next_fire_time(None, datetime(2025, 10, 1, 9, tzinfo=UTC))
    assert h4 == datetime(2025, 10, 1, 12, 0, 3, tzinfo=UTC)


async def test_failing_job_alerts_and_loop_continues(engine_factory) -> None:
    eng: Engine = await engine_factory()
    calls = []

    async def boom() -> None:
        calls.append(1)
        raise RuntimeError("feed exploded")

    job = guarded(eng, "tick:5m", boom)
    await job()
    await job()  # still callable: nothing propagated
    assert len(calls) == 2
    with eng.sessions() as s:
        msgs = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "error")).all()
    assert len(msgs) == 2 and "feed exploded" in msgs[0].payload["text"]


async def test_scheduler_runs_jobs_on_the_loop(engine_factory) -> None:
    eng: Engine = await engine_factory()
    sched = EngineScheduler(eng, feed=None, alert_drain_seconds=0.05)  # type: ignore[arg-type]
    s = sched.build()
    assert {j.id for j in s.get_jobs()} == {"tick:5m", "news", "expiry", "reconcile", "alerts",
                                            "daily_summary", "algos"}
    with eng.sessions.begin() as ss:
        from engine.events import JobFailed, record

        record(ss, JobFailed(ts_event=eng.clock.now(), job="x", error="y"))
    s.start()
    try:
        assert all(j.coalesce and j.max_instances == 1 for j in s.get_jobs())
        assert s.get_job("tick:5m").misfire_grace_time == 150
        await asyncio.sleep(0.3)
    finally:
        s.shutdown(wait=False)
    sent = eng.notifiers[0].sent  # type: ignore[attr-defined]
    assert len(sent) == 1


class _Feed:
    def __init__(self, bars: dict[str, list]) -> None:
        self.bars = bars
        self.asked: list[tuple[str, int | None]] = []

    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list:
        self.asked.append((symbol, since_ms))
        return [b for b in self.bars.get(symbol, [])
                if since_ms is None or b.ts.timestamp() * 1000 > since_ms]


async def test_tick_feeds_each_candle_once(engine_factory) -> None:
    from tests.engine.test_market_news import _bar

    eng: Engine = await engine_factory()
    feed = _Feed({"BTC/USDT": [_bar(i, 100.0) for i in range(3)]})
    sched = EngineScheduler(eng, feed)
    assert await sched.tick("5m") == 3
    assert await sched.tick("5m") == 0
    assert ("BTC/USDT", int(_bar(2, 1).ts.timestamp() * 1000)) in feed.asked
    assert eng.stats.bars == 3


async def test_bot_states_survive_restart(engine_factory, clock: ManualClock) -> None:
    eng: Engine = await engine_factory(bots=[{"name": "a", "symbols": ["BTC/USDT"]},
                                             {"name": "b", "symbols": ["ETH/USDT"]}])
    await eng.pause_bot("a", "telegram:1")
    await eng.stop_bot("b", "console")
    again: Engine = await engine_factory(bots=[{"name": "a", "symbols": ["BTC/USDT"]},
                                               {"name": "b", "symbols": ["ETH/USDT"]}])
    states = {b.name: (b.state, b.state_changed_by) for b in again.list_bots()}
    assert states == {"a": (BotState.PAUSED, "telegram:1"), "b": (BotState.STOPPED, "console")}
    assert (await again.start_bot("a", "x")).state == BotState.RUNNING
