"""Drive an Engine through a replay feed, resumable after a crash, exactly.

A killed replay must end as if it had never been killed: same orders, fills, trades,
balances and alerts. Three rules make it so:

1. Resume at the last candle step with committed work. Every row the engine writes
   during a step carries that step's clock time (a signal's `ts`, an order's
   `updated_at`, an alert's `ts_event`, ...), committed in the same transaction as the
   work itself, so the latest such time IS the step the kill interrupted (or the last
   one that did anything). Restart warms the strategies with every earlier candle and
   runs that step again. The saved cursor (`params["replay_cursor_ms"]`, every
   `save_every` steps) only skips steps that wrote nothing. Steps are never run again
   past later committed work: a step's alert drain would then deliver later alerts
   "before" their time.
2. Running that step again finishes it instead of redoing it: its signal is unique per
   (bot, symbol, timeframe, ts), its exit proposal is recognised by its time, a fill is
   unique per (order, trade key), so every part already committed is skipped and the
   first missing part runs with the same database state, clock and prices as before
   (`engine.service.trading`).
3. An order committed but not sent is never priced at the restart's (earlier) clock:
   `ExecutionEngine` defers it until the replay reaches its candle again, where the
   candle's own path sends it (`submit_due` catches any other, after each step).

On restart the engine's in-memory state between candles is rebuilt as an
uninterrupted run had it: each symbol's price after its last candle, the time of the
last equity snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from engine.clock import ManualClock, ms_to_dt
from engine.data.candles import Bar
from engine.data.feeds import ReplayFeed
from engine.events import ProposalExpired, record
from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.paper import Quote
from engine.service.engine import Engine, after_close
from engine.storage.models import (
    Bot,
    EquitySnapshot,
    Fill,
    Order,
    OutboxDelivery,
    OutboxMessage,
    Proposal,
    RiskEvent,
    Signal,
    Trade,
)

CURSOR = "replay_cursor_ms"
log = logging.getLogger("sentitrade.replay")


def load_cursor(eng: Engine) -> int | None:
    with eng.sessions() as s:
        raw = [b.params.get(CURSOR) for b in s.exec(select(Bot)).all()]
    vals = [int(v) for v in raw if v is not None]
    return min(vals) if vals else None


def save_cursor(eng: Engine, ts_ms: int) -> None:
    with eng.sessions.begin() as s:
        for b in s.exec(select(Bot)).all():
            b.params = {**b.params, CURSOR: ts_ms}


def _after_close(bar: Bar) -> Quote:
    """The price an uninterrupted replay holds after `bar`: the next candle's open."""
    now = bar.next_open if bar.next_open is not None else bar.close
    return after_close(now)


def _resume_state(eng: Engine, feed: ReplayFeed, cursor: int) -> int:
    """Warm the strategies with every candle up to the cursor and restore what the
    engine holds in memory between candles; returns the steps warmed."""
    assert isinstance(eng.clock, ManualClock)
    last: dict[str, Bar] = {}
    n = 0
    for ts, bars in feed.steps():
        if ts > cursor:
            break
        n += 1
        eng.clock.set(ms_to_dt(ts))
        for bar in bars:
            eng.warm(bar)
            last[bar.symbol] = bar
    for symbol, bar in last.items():
        eng.quotes[symbol] = _after_close(bar)
    return n


def _resume_snapshots(eng: Engine) -> None:
    """The hourly equity snapshots keep their cadence across a restart."""
    with eng.sessions() as s:
        snap = s.exec(select(func.max(EquitySnapshot.ts)).where(
            col(EquitySnapshot.account) == eng.broker.account)).one()
    if snap is not None:
        eng._last_snapshot = snap


# every column the engine stamps with its clock while it processes a step
STAMPS: tuple[Any, ...] = (
    Signal.ts, Proposal.created_at, Proposal.decided_at, Proposal.executed_at,
    Order.updated_at, Fill.ts, Trade.close_at, EquitySnapshot.ts, RiskEvent.created_at,
    OutboxMessage.ts_event, OutboxDelivery.delivered_at)


def last_work_ms(eng: Engine) -> int | None:
    """Close time (ms) of the latest step that committed anything."""
    latest: datetime | None = None
    with eng.sessions() as s:
        for column in STAMPS:
            t = s.exec(select(func.max(column))).one()
            if t is not None and (latest is None or t > latest):
                latest = t
    return None if latest is None else round(latest.timestamp() * 1000)


def resume_point(eng: Engine) -> int | None:
    """Every step up to this time (ms) is complete and is only warmed on restart."""
    cursor = load_cursor(eng)
    work = last_work_ms(eng)
    if work is None:
        return cursor
    return max(cursor or 0, work - 1)


async def wait_for_decisions(eng: Engine, wall_seconds: float, poll_s: float = 0.2) -> int:
    """Replay steering: while proposals wait for a person, the replay clock stands still
    (so they do not expire within a second of wall time as the replay races ahead),
    for up to `wall_seconds` of wall time; what is still pending then expires, with a
    note saying why. Returns how many expired that way."""
    pending = eng.pending_proposals()
    if not pending:
        return 0
    log.info("replay paused at %s: %d proposal(s) wait for a decision (up to %.0f s)",
             eng.clock.now().isoformat(), len(pending), wall_seconds)
    deadline = time.monotonic() + wall_seconds
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(poll_s)
        pending = eng.pending_proposals()
    n = 0
    if pending:
        now = eng.clock.now()
        note = f"no decision within {wall_seconds:.0f} s of wall time (replay)"
        with eng.sessions.begin() as s:
            for p in pending:
                row = s.get(Proposal, p.id)
                if row is not None and transition(s, row, ProposalTrigger.EXPIRE, by="engine",
                                                  at=now, note=note):
                    record(s, ProposalExpired(ts_event=now, proposal_id=row.id or 0,
                                              by="engine", note=note))
                    n += 1
    return n


async def run_replay(eng: Engine, feed: ReplayFeed, *, save_every: int = 12,
                     on_step: Callable[[int], None] | None = None,
                     steer_seconds: float | None = None) -> int:
    """Process every step after the saved cursor; returns the number processed.
    `steer_seconds`: someone can decide from a chat, so the replay pauses while a
    proposal waits (`wait_for_decisions`); they also get the daily summary (with its
    PnL chart) each time the replay clock passes midnight UTC, as a live service sends
    it at 00:00 (a replay without a chat writes none: nobody would read it).

    The engine must have been started with `reconcile=False`."""
    assert isinstance(eng.clock, ManualClock), "replay needs the engine on a ManualClock"
    resume = resume_point(eng)
    warmed = _resume_state(eng, feed, resume) if resume is not None else 0
    _resume_snapshots(eng)
    # after warm-up: orders are asked for first; an unsent one waits for its candle
    await eng.reconcile()
    deferred = resume is not None
    n = 0
    ts = resume or 0
    day = eng.clock.now().date()
    async for ts, bars in feed.run(after_ms=resume):
        for bar in bars:
            await eng.on_bar(bar)
        if deferred:
            deferred = await eng.execution.submit_due() > 0
        await eng.tick()
        if steer_seconds is not None:
            if n and eng.clock.now().date() != day:
                await eng.daily_summary()  # of the replay day that just ended
            day = eng.clock.now().date()
            await wait_for_decisions(eng, steer_seconds)
        n += 1
        if (warmed + n) % save_every == 0:  # counted from the feed's start: the same
            save_cursor(eng, ts)            # steps as an uninterrupted run, restarts or not
        if on_step is not None:
            on_step(ts)
    if n and (warmed + n) % save_every:
        save_cursor(eng, ts)
    await eng.drain_alerts()
    return n
