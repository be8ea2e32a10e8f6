"""APScheduler wiring: the service's jobs on the same asyncio loop as the chat transports.

Jobs (all UTC):

| job            | trigger                                   | what                          |
| -------------- | ----------------------------------------- | ----------------------------- |
| tick:<tf>      | cron at each candle close + `tick_delay`  | closed candles -> on_bar, then
|                |                                           | working orders, expiry, risk
|                |                                           | monitor (breakers), alerts    |
| news           | every `sentiment.poll_seconds`            | poll sources, score, refresh  |
| expiry         | every 10 s                                | expire overdue proposals      |
| reconcile      | every 60 s                                | orders + balances vs exchange |
| algos          | every 5 s                                 | due TWAP/VWAP slices          |
| alerts         | every `engine.alert_drain_seconds`        | drain the outbox              |
| daily_summary  | cron 00:00                                | summary alert                 |

Misfire/coalesce: every job has `coalesce=True` (a backlog of missed runs collapses
into one: running the 09:05 tick three times after a stall would only re-read the
same candles) and `max_instances=1` (a slow tick never overlaps the next). Ticks get a
`misfire_grace_time` of half their timeframe: a tick that starts later than that is
skipped, and the next one picks up every candle closed since (the feed is asked for
candles since the last one seen, so nothing is lost, only late). Short jobs get 30 s.

A failing job is logged and alerted (`JobFailed`, kind `error`) by `guarded` and never
propagates: the scheduler keeps running. CPU-heavy work (news scoring with FinBERT,
candle validation) runs in worker threads via `asyncio.to_thread`; the per-candle
indicator update is O(1) streaming and stays on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.data.candles import timeframe_ms
from engine.data.feeds import MarketData
from engine.outbox import Notifier
from engine.service.api import Attachment, TradingAPI
from engine.service.engine import Engine
from engine.storage.config import Settings

log = logging.getLogger("sentitrade.scheduler")
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def candle_close_trigger(timeframe: str, delay_s: int = 3) -> CronTrigger | IntervalTrigger:
    """Fire `delay_s` after each candle close (exchanges publish a closed candle a
    moment after the boundary); candles shorter than a minute (1s), half a candle after
    each close."""
    step_ms = timeframe_ms(timeframe)
    if step_ms < 60_000:
        from datetime import UTC, datetime

        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        first = (now_ms // step_ms + 1) * step_ms + step_ms // 2
        return IntervalTrigger(seconds=step_ms / 1000, timezone="UTC",
                               start_date=datetime.fromtimestamp(first / 1000, UTC))
    minutes = step_ms // 60_000
    if minutes < 60:
        return CronTrigger(minute=f"*/{minutes}", second=delay_s, timezone="UTC")
    hours = minutes // 60
    if hours < 24:
        return CronTrigger(hour=f"*/{hours}", minute=0, second=delay_s, timezone="UTC")
    return CronTrigger(hour=0, minute=0, second=delay_s, timezone="UTC")


def guarded(engine: Engine, name: str,
            fn: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    """Run `fn`; on any error log it and record a `JobFailed` alert, never raise."""

    async def job() -> None:
        try:
            await fn()
        except Exception as e:
            await engine.job_failed(name, e)

    job.__name__ = f"job_{name}"
    return job


class EngineScheduler:
    """Builds the AsyncIOScheduler with every job of the service."""

    def __init__(self, engine: Engine, feed: MarketData, *, tick_delay_s: int = 3,
                 alert_drain_seconds: float = 2.0,
                 news_poll: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.engine = engine
        self.feed = feed
        self.tick_delay_s = tick_delay_s
        self.alert_drain_seconds = alert_drain_seconds
        self.news_poll = news_poll
        self.last_close_ms: dict[tuple[str, str], int] = {}
        self.scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)

    def timeframes(self) -> list[str]:
        return sorted({b.timeframe for b in self.engine.list_bots()})

    def build(self) -> AsyncIOScheduler:
        e, add = self.engine, self.scheduler.add_job
        for tf in self.timeframes():
            add(guarded(e, f"tick:{tf}", self._tick_job(tf)),
                candle_close_trigger(tf, self.tick_delay_s), id=f"tick:{tf}",
                misfire_grace_time=max(1, timeframe_ms(tf) // 2000))
        add(guarded(e, "news", self.poll_news),
            IntervalTrigger(seconds=e.settings.sentiment.poll_seconds), id="news")
        add(guarded(e, "expiry", e.expire_due), IntervalTrigger(seconds=10), id="expiry")
        add(guarded(e, "reconcile", e.reconcile), IntervalTrigger(minutes=1), id="reconcile")
        add(guarded(e, "algos", e.step_algos), IntervalTrigger(seconds=5), id="algos")
        add(guarded(e, "alerts", e.drain_alerts),
            IntervalTrigger(seconds=self.alert_drain_seconds), id="alerts")
        add(guarded(e, "daily_summary", e.daily_summary),
            CronTrigger(hour=0, minute=0, timezone="UTC"), id="daily_summary")
        return self.scheduler

    def _tick_job(self, timeframe: str) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            return await self.tick(timeframe)

        return run

    async def tick(self, timeframe: str) -> int:
        """Every candle of `timeframe` closed since the last tick, then the per-tick
        jobs (working orders, expiry, risk monitor, alerts)."""
        n = 0
        for bot in self.engine.list_bots():
            if bot.timeframe != timeframe:
                continue
            for sym in bot.symbols:
                key = (sym, timeframe)
                bars = await self.feed.closed_bars(sym, timeframe, self.last_close_ms.get(key))
                for bar in bars:
                    await self.engine.on_bar(bar)
                    self.last_close_ms[key] = int(bar.ts.timestamp() * 1000)
                    n += 1
        await self.engine.tick()
        return n

    async def warm(self) -> int:
        """Feed each (symbol, timeframe) its last closed candles without acting, and
        remember the last one: the first tick asks only for candles closed after it, so
        nothing that closed before the start is ever acted on (a restart included)."""
        n = 0
        history = getattr(self.feed, "history", None)
        if history is None:
            return 0
        want: dict[tuple[str, str], int] = {}
        for bot in self.engine.list_bots():
            rt = self.engine.strategies.runtime(bot)
            size = rt.window or 1000
            for sym in bot.symbols:
                key = (sym, bot.timeframe)
                want[key] = max(want.get(key, 0), size)
        for (sym, tf), size in sorted(want.items()):
            bars = await history(sym, tf, size)
            for bar in bars:
                self.engine.warm(bar)
                n += 1
            if bars:
                self.last_close_ms[(sym, tf)] = bars[-1].close_ms
        return n

    async def poll_news(self) -> None:
        if self.news_poll is not None:
            await self.news_poll()
        new = await asyncio.to_thread(self.engine.refresh_sentiment)
        await self.engine.react_to_news(new)


def _news_poller(engine: Engine) -> Callable[[], Awaitable[Any]] | None:
    """The sentiment package's poll when it is installed (`engine.data.news.poll`)."""
    try:
        from engine.data import news
    except ImportError:
        return None
    poll = getattr(news, "poll", None)
    if poll is None:
        return None

    async def run() -> Any:
        # the LLM scorer's budget hook becomes an alert (README: "an alert fires")
        # and the market now, which the LLM scorer sends with the headlines
        return await poll(engine.sessions, engine.settings, alert=engine.operator_alert,
                          market_context=engine.market_context)

    return run


async def serve(settings: Settings, notifiers: Sequence[Notifier] = (),
                stop: asyncio.Event | None = None,
                attach: Callable[[TradingAPI], Attachment] | None = None,
                console: bool = False) -> None:
    """The service: migrate, build broker + feed + engine, reconcile, run the jobs until
    SIGINT/SIGTERM (or `stop`). Replay mode runs the replay to its end; when someone can
    talk to the service (a chat token, the API, the `console` REPL) it pauses while a
    proposal waits for them and keeps serving after the end, until stopped."""
    from engine.clock import ManualClock
    from engine.errors import SecretsError
    from engine.service.validate import validate_for_start
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade
    from engine.strategy.params import load_strategy

    validate_for_start(settings)
    for spec in settings.bots:  # an unknown or broken strategy stops before any write
        load_strategy(spec.strategy, settings.engine.strategy_path, spec.params)
    upgrade(settings.database.url)
    sessions = SessionFactory(make_engine(settings.database.url))
    try:
        from engine.storage.secrets_sync import sync_secrets, vault_for

        settings = sync_secrets(settings, sessions, vault_for(settings))
    except SecretsError as e:
        if settings.secret_values():
            raise
        log.warning("secrets vault not used: %s", e)
    mode = settings.exchange.mode
    if mode == "replay":
        from engine.data.feeds import ReplayFeed
        from engine.service.replay import run_replay

        clock = ManualClock()
        engine = Engine(settings, sessions, clock=clock, notifiers=notifiers)
        await engine.start(reconcile=False)
        attached = attach(engine) if attach is not None else None
        if attached is not None:
            await attached.start()
        people = attached is not None and (console or settings.api.enabled or bool(
            settings.telegram.token or settings.discord.token))
        symbols = sorted({s for b in settings.bots for s in b.symbols})
        tfs = sorted({b.timeframe for b in settings.bots}, key=timeframe_ms)
        feed = ReplayFeed(settings.exchange.replay_data, symbols, tfs, clock,
                          speed=settings.exchange.replay_speed)
        try:
            steer = float(settings.approvals.expiry_seconds) if people else None
            if not people:
                await run_replay(engine, feed)
                return
            stop = stop or asyncio.Event()
            _on_signals(stop)
            replay = asyncio.create_task(run_replay(engine, feed, steer_seconds=steer))
            halt = asyncio.create_task(stop.wait())
            await asyncio.wait({replay, halt}, return_when=asyncio.FIRST_COMPLETED)
            if replay.done():
                halt.cancel()
                replay.result()
                log.info("replay finished: the chat keeps serving (/status, /trades, "
                         "/chart...) until Ctrl-C or /quit")
                await stop.wait()
            else:
                replay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await replay
        finally:
            if attached is not None:
                await attached.stop()
            await engine.close()
        return
    from engine.data.exchange import check_exchange
    from engine.data.live import ServiceFeed

    # REST polling of closed candles, or websocket streams with REST gap filling
    # (`[exchange] stream = true`): the same feed interface either way
    sf = ServiceFeed(settings)
    public = sf.client
    try:
        n_markets = await check_exchange(public, settings)
    except BaseException:
        await sf.close()
        raise
    log.info("exchange %s answers: %d markets", settings.exchange.id, n_markets)
    broker: Any = None
    if mode == "live":
        from engine.execution.ccxt_broker import CcxtBroker

        if settings.exchange.trading_mode == "futures":  # USDⓈ-M swaps, shorts, leverage
            from engine.execution.ccxt_futures import CcxtFuturesBroker

            broker = CcxtFuturesBroker.from_settings(settings)
        else:
            broker = CcxtBroker.from_settings(settings)
    engine = Engine(settings, sessions, broker=broker, notifiers=notifiers)
    await engine.start()
    runner = EngineScheduler(engine, sf.feed, news_poll=_news_poller(engine),
                             tick_delay_s=settings.engine.tick_delay_seconds,
                             alert_drain_seconds=settings.engine.alert_drain_seconds)
    warmed = await runner.warm()
    sf.attach(engine)  # streamed trades feed the breakers; the bots' streams subscribe
    log.info("strategies warmed with %d past candles; acting on candles closing from now on",
             warmed)
    sched = runner.build()
    stop = stop or asyncio.Event()
    _on_signals(stop)
    sched.start()
    attached = attach(engine) if attach is not None else None
    if attached is not None:
        await attached.start()
    log.info("service running: %d bots, mode %s", len(engine.list_bots()), mode)
    try:
        await stop.wait()
    finally:
        if attached is not None:
            await attached.stop()
        sched.shutdown(wait=False)
        await engine.drain_alerts()
        await engine.close()
        await sf.close()


def _on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM (and the console's /quit, which raises SIGINT) set `stop`."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def run_service(settings: Settings, notifiers: Sequence[Notifier] = (),
                attach: Callable[[TradingAPI], Attachment] | None = None,
                console: bool = False) -> None:
    """`sentitrade run`: migrate, build the engine, run the scheduler until Ctrl-C.

    `attach` builds what runs beside the engine (the CLI passes the chat transports);
    `console`: the console REPL is one of them (someone is there to approve)."""
    asyncio.run(serve(settings, notifiers, attach=attach, console=console))
