"""Drive an Engine through a replay feed, resumable after a crash.

The last fully processed step is saved (hourly, with the equity snapshot) in every
bot's `params["replay_cursor_ms"]`. On restart the candles up to the cursor only warm
the indicators; processing resumes after it. Re-processing a few steps past a stale
cursor is harmless: a candle's signal is unique per (bot, symbol, timeframe, ts), so
it never makes a second proposal.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from engine.clock import ManualClock, ms_to_dt
from engine.data.feeds import ReplayFeed
from engine.service.engine import Engine
from engine.storage.models import Bot

CURSOR = "replay_cursor_ms"


def load_cursor(eng: Engine) -> int | None:
    with eng.sessions() as s:
        raw = [b.params.get(CURSOR) for b in s.exec(select(Bot)).all()]
    vals = [int(v) for v in raw if v is not None]
    return min(vals) if vals else None


def save_cursor(eng: Engine, ts_ms: int) -> None:
    with eng.sessions.begin() as s:
        for b in s.exec(select(Bot)).all():
            b.params = {**b.params, CURSOR: ts_ms}


async def run_replay(eng: Engine, feed: ReplayFeed, *, save_every: int = 12,
                     on_step: Callable[[int], None] | None = None) -> int:
    """Process every step after the saved cursor; returns the number processed.

    The engine must have been started with `reconcile=False`."""
    assert isinstance(eng.clock, ManualClock), "replay needs the engine on a ManualClock"
    cursor = load_cursor(eng)
    if cursor is not None:
        for ts, bars in feed.steps():
            if ts > cursor:
                break
            eng.clock.set(ms_to_dt(ts))
            for bar in bars:
                eng.warm(bar)
    await eng.reconcile()  # after warm-up: a resubmitted paper order needs a price
    n = 0
    async for ts, bars in feed.run(after_ms=cursor):
        for bar in bars:
            await eng.on_bar(bar)
        await eng.tick()
        n += 1
        if n % save_every == 0:
            save_cursor(eng, ts)
        if on_step is not None:
            on_step(ts)
    if n:
        save_cursor(eng, ts)
    await eng.drain_alerts()
    return n
