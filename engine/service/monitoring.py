"""Risk monitoring: breaker evaluation and trips with their actions, resume, daily
summaries and job failures. A mixin of `engine.service.engine.Engine`."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, func, select

from engine.events import (
    BreakerCleared,
    DailySummary,
    JobFailed,
    record,
)
from engine.risk.checks import (
    Trip,
    active_breakers,
    write_trip,
)
from engine.risk.live import LiveGuard, LiveTrip
from engine.service.api import (
    BreakerState,
    RiskStatus,
)
from engine.state import EngineState
from engine.storage.models import (
    EquitySnapshot,
    Order,
    OrderState,
    ProposalState,
    RiskEvent,
    Trade,
)

log = logging.getLogger("sentitrade.engine")


class RiskDesk(EngineState):
    """Circuit breakers and the service's own health alerts."""

    def risk_status(self) -> RiskStatus:
        lim = self.settings.risk
        with self.sessions() as s:
            ctx = self.risk_context(s, "")
            events = active_breakers(s, self.clock.now())
        eq = ctx.equity or Decimal(1)
        usage = {"equity": ctx.equity, "free_quote": ctx.free_quote,
                 "open_trades": ctx.open_trades, "trades_today": ctx.trades_today,
                 "total_exposure_pct": float(ctx.total_exposure / eq * 100),
                 "asset_exposure_pct": {a: float(v / eq * 100) for a, v in ctx.exposure.items()},
                 "peak_equity": self.monitor.peak, "day_start_equity": self.monitor.day_start}
        return RiskStatus(limits=lim.model_dump(), usage=usage,
                          breakers=[BreakerState(e.rule, e.action, e.measured, e.threshold,
                                                 e.until, e.id) for e in events],
                          trading_state=ctx.trading_state if not ctx.exchange_paused
                          else "halted")

    async def resume(self, by: str) -> list[RiskEvent]:
        """Clear every active breaker now (admin). Stopped bots stay stopped: start them."""
        now = self.clock.now()
        cleared: list[RiskEvent] = []
        with self.sessions.begin() as s:
            for e in active_breakers(s, now):
                e.cleared_at, e.cleared_by = now, by
                record(s, BreakerCleared(ts_event=now, risk_event_id=e.id or 0, rule=e.rule,
                                         by=by))
                cleared.append(e)
            eq = self.equity(s)
        self.monitor.reset_baselines(eq, [e.rule for e in cleared])
        await self.drain_alerts()
        return cleared

    async def risk_monitor(self) -> list[RiskEvent]:
        """Evaluate the breakers; trip = RiskEvent + alert + the rule's action."""
        now = self.clock.now()
        eq = self.equity()
        active = {e.rule for e in self.view().active
                  if e.until is None or e.until > now}
        trips = self.monitor.evaluate(now, eq, active) if eq > 0 else []
        if self._last_snapshot is None or now - self._last_snapshot >= timedelta(hours=1):
            with self.sessions.begin() as s:
                s.add(EquitySnapshot(account=self.broker.account, ts=now, equity=eq))
            self._last_snapshot = now
        out: list[RiskEvent] = []
        for trip in trips:
            out.append(await self._trip(trip))
        return out

    async def _trip(self, trip: Trip) -> RiskEvent:
        now = self.clock.now()
        self.stats.trips += 1
        with self.sessions.begin() as s:
            ev = write_trip(s, trip, now, exchange=self.broker.name)
        log.warning("breaker %s tripped: %.2f > %.2f -> %s", trip.rule, trip.measured,
                    trip.threshold, trip.action)
        if trip.action == "stop_bot":
            await self.force_exit(None, "breaker:drawdown_stop")
            self.bots.stop_all("breaker:drawdown_stop")
        elif trip.action == "cancel_pending":
            with self.sessions() as s:
                working = s.exec(select(Order).where(
                    Order.symbol == trip.scope, col(Order.reduce_only).is_(False),  # stops stay
                    col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED]))).all()
            for o in working:
                await self.execution.cancel(o.id or 0, f"price spike {trip.measured:.1f}%")
            # entries waiting for approval on that symbol were sized on the old price;
            # exits stay (they reduce risk)
            for p in self.pending_proposals():  # type: ignore[attr-defined]
                if (p.symbol == trip.scope and p.intent == "enter"
                        and p.state == ProposalState.PENDING):
                    await self.reject(p.id or 0, "breaker:price_spike")  # type: ignore[attr-defined]
        return ev

    # ------------------------------------------------------------ live feeds
    def watch_feed(self, feed: Any) -> LiveGuard:
        """Listen to a streaming feed (`engine.data.stream.StreamFeed`): price spikes on
        trades and tickers, feed errors and disconnects as API errors, a stale stream
        pausing entries until it recovers."""
        guard = LiveGuard(self.settings.risk, trip=self._feed_trip,
                          api_error=lambda: self.monitor.api_error(self.clock.now()),
                          recovered=self._feed_recovered)
        feed.listeners.append(guard)
        return guard

    def _spawn(self, coro: Any) -> None:
        tasks: set[asyncio.Task[Any]] = self.__dict__.setdefault("_feed_tasks", set())
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _feed_trip(self, trip: LiveTrip) -> None:
        async def run() -> None:
            try:
                await self._trip(trip)
                await self.drain_alerts()
            except Exception as e:
                await self.job_failed(f"feed_trip:{trip.rule}", e)

        self._spawn(run())

    def _feed_recovered(self, stream: str) -> None:
        async def run() -> None:
            now = self.clock.now()
            with self.sessions.begin() as s:
                for e in active_breakers(s, now):
                    if e.rule == "feed_stale" and (e.detail or {}).get("scope") == stream:
                        e.cleared_at, e.cleared_by = now, "feed"
                        record(s, BreakerCleared(ts_event=now, risk_event_id=e.id or 0,
                                                 rule=e.rule, by="feed"))
            log.info("stream %s speaks again: feed_stale cleared", stream)
            await self.drain_alerts()

        self._spawn(run())

    async def feed_settled(self) -> None:
        """Wait for the trips and clears the feed started (tests, shutdown)."""
        tasks: set[asyncio.Task[Any]] = self.__dict__.get("_feed_tasks", set())
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)

    async def daily_summary(self) -> None:
        now = self.clock.now()
        day = (now - timedelta(days=1)).strftime("%Y-%m-%d")
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        with self.sessions.begin() as s:
            closed = s.exec(select(Trade).where(col(Trade.close_at) >= start,
                                                col(Trade.close_at) < start + timedelta(days=1))
                            ).all()
            pnl = sum((t.realized_pnl or Decimal(0) for t in closed), Decimal(0))
            n_open = s.exec(select(func.count()).select_from(Trade)
                            .where(col(Trade.is_open).is_(True))).one()
            record(s, DailySummary(ts_event=now, day=day, equity=self.equity(s),
                                   realized_pnl=pnl, trades_closed=len(closed),
                                   open_trades=int(n_open)))

    async def job_failed(self, job: str, err: BaseException) -> None:
        log.exception("job %s failed", job, exc_info=err)
        try:
            with self.sessions.begin() as s:
                record(s, JobFailed(ts_event=self.clock.now(), job=job,
                                    error=f"{type(err).__name__}: {err}"[:300]))
        except Exception:
            log.exception("could not record the failure of job %s", job)

