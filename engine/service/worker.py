"""`sentitrade run --role engine`: an engine worker running the bots it holds leases on.

Each worker is the single-process `Engine`, restricted to its bots (`OwnedBots`): it
reads every candle step from the bus (`engine.service.steps`), runs its bots on it and
answers the step with their names. One worker also holds the ``*global*`` lease and
runs what is not any one bot's: working orders, proposal expiry, breakers, the equity
snapshot and the outbox drain to the bus (each outbox destination is drained by exactly
one process: that, and the delivery row committed after each send, keep alerts
exactly-once per destination across processes).

Failover: a worker that takes over a lapsed lease rebuilds the bot exactly as a
restarted replay does (`engine.service.replay`): it finds the last step with committed
work, warms the bot's strategy with every earlier candle (it kept them from the
stream), settles the bot's orders, then runs the bot again from that step: a step that
was half done when its owner died is finished, never redone (signals, proposals and
fills are unique per candle).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from engine.bus import EventBus
from engine.clock import Clock, ManualClock, SystemClock, ms_to_dt
from engine.data.candles import Bar
from engine.execution.orders import ACTIVE
from engine.outbox import ConsoleNotifier, Notifier, OutboxDispatcher
from engine.service.bots import BotManager
from engine.service.engine import Engine
from engine.service.leases import GLOBAL, WORKER, Leases, fair_share
from engine.service.remote import serve_commands
from engine.service.replay import resume_point
from engine.service.steps import DONE, STEPS, decode_step, encode_done
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Bot, Order, OrderState, Trade

log = logging.getLogger("sentitrade.worker")
KEEP_STEPS = 20_000  # candle steps kept to rebuild a bot taken over (a replay's are all)


class OwnedBots(BotManager):
    """The bots table as one worker sees it: only the bots it holds."""

    owned: set[str]

    def all(self) -> list[Bot]:
        return [b for b in super().all() if b.name in self.owned]


class EngineWorker:
    def __init__(self, settings: Settings, bus: EventBus, worker_id: str, *,
                 notifiers: Sequence[Notifier] = (), sessions: SessionFactory | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.id = worker_id
        self.sessions = sessions or SessionFactory(make_engine(settings.database.url))
        self.replay = settings.exchange.mode == "replay"
        self.clock = clock or (ManualClock() if self.replay else SystemClock())
        broker = None
        if settings.exchange.mode == "live":  # the CLI asked for the live flag already
            from engine.execution.ccxt_broker import CcxtBroker

            broker = CcxtBroker.from_settings(settings)
        self.engine = Engine(settings, self.sessions, clock=self.clock, broker=broker,
                             notifiers=list(notifiers) or [ConsoleNotifier()])
        bots = OwnedBots(self.sessions, settings, self.clock)
        bots.owned = set()
        self.engine.bots = bots
        self.bots = bots
        # the alert drain runs only where the global lease is: swap dispatchers with it
        self._drainer = self.engine.outbox
        self.engine.outbox = OutboxDispatcher(self.sessions, [], self.clock)
        self.leases = Leases(self.sessions, worker_id, settings.bus.lease_seconds)
        self.names = [b.name for b in settings.bots]
        self.is_global = False
        self.steps: deque[tuple[int, list[Bar]]] = deque(maxlen=KEEP_STEPS)
        self.last_ts: int | None = None
        self.deferred = False
        self._beat_at = 0.0
        self._feed: Any = None  # paper/live: the exchange's REST client, for history
        self._jobs: Any = None  # paper/live, global worker: the timed jobs

    @property
    def group(self) -> str:
        return f"engine:{self.id}"

    async def start(self) -> None:
        for attempt in range(3):  # two workers creating the bots' rows at once: one wins
            try:
                await self.engine.start(reconcile=not self.replay)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2)
        self.leases.try_take(WORKER + self.id)
        # let the other workers starting now register, so the first does not take all
        await asyncio.sleep(min(2.0, self.settings.bus.lease_seconds / 3))
        await self.heartbeat(force=True)

    # ------------------------------------------------------------ leases
    async def heartbeat(self, force: bool = False) -> None:
        """Renew what we hold, drop what we lost, take free or lapsed bots up to our
        fair share (adopting each), and the global lease when nobody holds it."""
        if not force and time.monotonic() - self._beat_at < self.settings.bus.lease_seconds / 4:
            return
        self._beat_at = time.monotonic()
        mine = set(self.bots.owned) | {WORKER + self.id} | ({GLOBAL} if self.is_global else set())
        held = self.leases.renew(mine)
        if WORKER + self.id not in held:
            self.leases.try_take(WORKER + self.id)
        lost = self.bots.owned - held
        if lost:
            log.warning("worker %s lost bots %s (lease lapsed): another worker has them",
                        self.id, ", ".join(sorted(lost)))
            self.bots.owned -= lost
        if self.is_global and GLOBAL not in held:
            self._set_global(False)
        share = fair_share(len(self.names), self.leases.live_workers())
        taken: list[str] = []
        for name in self.names:
            if len(self.bots.owned) + len(taken) >= share:
                break
            if name not in self.bots.owned and self.leases.try_take(name):
                taken.append(name)
        if taken:
            await self.adopt(taken)
        if not self.is_global and self.leases.try_take(GLOBAL):
            self._set_global(True)

    def _set_global(self, on: bool) -> None:
        self.is_global = on
        self.engine.outbox = self._drainer if on else OutboxDispatcher(self.sessions, [],
                                                                       self.clock)
        if not self.replay:  # paper/live: the timed jobs `run` has besides the ticks
            if on:
                self._jobs = self._timed_jobs()
                self._jobs.start()
            elif self._jobs is not None:
                self._jobs.shutdown(wait=False)
                self._jobs = None
        log.info("worker %s %s the global jobs", self.id, "runs" if on else "no longer runs")

    def _timed_jobs(self) -> Any:
        """News polling, proposal expiry, the alert drain and the daily summary, as
        `engine.service.scheduler` runs them in one process. Not the periodic full
        reconcile: it would resend another worker's order in flight (each worker
        settles its own bots' orders when it takes them)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        from engine.service.scheduler import JOB_DEFAULTS, EngineScheduler, _news_poller, guarded

        e = self.engine
        runner = EngineScheduler(e, self, news_poll=_news_poller(e))
        sched = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
        sched.add_job(guarded(e, "news", runner.poll_news),
                      IntervalTrigger(seconds=e.settings.sentiment.poll_seconds), id="news")
        sched.add_job(guarded(e, "expiry", e.expire_due), IntervalTrigger(seconds=10),
                      id="expiry")
        sched.add_job(guarded(e, "alerts", e.drain_alerts),
                      IntervalTrigger(seconds=e.settings.engine.alert_drain_seconds),
                      id="alerts")
        sched.add_job(guarded(e, "daily_summary", e.daily_summary),
                      CronTrigger(hour=0, minute=0, timezone="UTC"), id="daily_summary")
        return sched

    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        """(`MarketData`: candles reach a worker as steps, never by asking.)"""
        return []

    # ------------------------------------------------------------ take over
    async def adopt(self, names: list[str]) -> None:
        """Rebuild `names` as a restart would, up to the last step seen, then own them."""
        eng, before = self.engine, set(self.bots.owned)
        log.info("worker %s takes bots %s", self.id, ", ".join(names))
        self.bots.owned = set(names)
        self.bots.invalidate()
        adopted = self.bots.all()
        with self.sessions() as s:  # a bot held before and lost: forget its stale state
            trades = s.exec(select(Trade.id).where(
                col(Trade.bot_id).in_([b.id for b in adopted]))).all()
        for b in adopted:
            eng.strategies.runtimes.pop(b.name, None)
        for tid in trades:
            eng.strategies.positions.pop(tid or 0, None)
        if not self.replay:
            await self._warm_from_exchange(adopted)
        elif self.steps:
            saved = dict(eng.quotes)
            resume = resume_point(eng) if self.replay else self.steps[-1][0]
            rerun = [(ts, bars) for ts, bars in self.steps if resume is None or ts > resume]
            for ts, bars in self.steps:
                if resume is not None and ts <= resume:
                    self._set_clock(ts)
                    for bar in bars:
                        eng.warm(bar)
            await self._settle_orders(adopted)
            for ts, bars in rerun:
                self._set_clock(ts)
                for bar in bars:
                    await eng.on_bar(bar)
                await self._settle_orders(adopted)
            eng.quotes.update(saved)
            if self.last_ts is not None:
                self._set_clock(self.last_ts)
                await self.bus.append(DONE, encode_done(self.id, self.last_ts, names))
        self.bots.owned = before | set(names)
        self.bots.invalidate()

    async def _warm_from_exchange(self, bots: list[Bot]) -> None:
        """Paper and live: each bot's window of closed candles from the exchange, as
        `run` warms its strategies at start (`EngineScheduler.warm`); the collector's
        steps carry on from there. Then the bot's orders are settled as at a start."""
        if self._feed is None:
            from engine.data.live import ServiceFeed

            self._feed = ServiceFeed(self.settings)
        history = getattr(self._feed.feed, "history", None)
        for bot in bots:
            size = self.engine.strategies.runtime(bot).window or 1000
            for sym in bot.symbols:
                try:
                    bars = await history(sym, bot.timeframe, size) if history else []
                except Exception as e:  # the bot still runs; its history fills up live
                    log.warning("bot %s: no history for %s (%s): it starts cold",
                                bot.name, sym, e)
                    bars = []
                for bar in bars:
                    self.engine.strategies.push(bot, bar)
        await self._settle_orders(bots)

    async def _settle_orders(self, bots: list[Bot]) -> None:
        """`ExecutionEngine.reconcile`, for these bots' orders only (another worker's
        may be in flight): booked, deferred until their candle, or sent again."""
        ids = [b.id for b in bots]
        ex = self.engine.execution
        with self.sessions() as s:
            rows = s.exec(select(Order).where(col(Order.bot_id).in_(ids),
                                              col(Order.state).in_(list(ACTIVE)))
                          .order_by(col(Order.id))).all()
        for o in rows:
            assert o.id is not None
            res = await ex.broker.fetch_order(o)
            if res is not None:
                if res.fills or res.status != "open" or o.state == OrderState.PENDING_CREATE:
                    ex.book(o.id, res)
            elif o.state == OrderState.PENDING_CREATE and not ex.too_early(o):
                await ex.submit(o.id)

    def _set_clock(self, ts: int) -> None:
        if isinstance(self.clock, ManualClock):
            self.clock.set(ms_to_dt(ts))

    # ------------------------------------------------------------ the loop
    async def step(self, ts: int, bars: list[Bar]) -> None:
        eng = self.engine
        if self.last_ts is not None and ts <= self.last_ts:  # a collector sent it again
            await self.bus.append(DONE, encode_done(self.id, ts, sorted(self.bots.owned)))
            return
        self.steps.append((ts, bars))
        self.last_ts = ts
        self._set_clock(ts)
        eng._view = None  # other processes wrote since the last step
        self.bots.invalidate()
        for bar in bars:
            await eng.on_bar(bar)
        if self.is_global:
            await eng.tick()
        await self.bus.append(DONE, encode_done(self.id, ts, sorted(self.bots.owned)))

    async def run(self, stop: asyncio.Event) -> int:
        """Steps until the replay ends or `stop`; returns the steps run."""
        await self.start()
        n = 0
        try:
            while not stop.is_set():
                await self.heartbeat()
                if self.is_global:  # approvals and force exits sent by the chat / API
                    await serve_commands(self.engine, self.bus, self.id,
                                         stale_ms=int(self.settings.bus.lease_seconds * 1000))
                entries = await self.bus.read_group(STEPS, self.group, self.id, count=50,
                                                    block_ms=200)
                ended = False
                for e in entries:
                    msg = decode_step(e.data)
                    if msg is None:
                        ended = True
                    else:
                        await self.step(*msg)
                        n += 1
                    await self.bus.ack(STEPS, self.group, e.id)
                    await self.heartbeat()
                if ended:
                    break
        finally:
            if self.is_global:
                await self._drainer.drain()
            self.leases.release(set(self.bots.owned) | {WORKER + self.id, GLOBAL})
            await self.engine.close()
            if self._feed is not None:
                await self._feed.close()
            if self._jobs is not None:
                self._jobs.shutdown(wait=False)
        return n
