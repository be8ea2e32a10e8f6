"""`Engine`: the trading core behind `TradingAPI` (`sentitrade run`: `engine.service.scheduler`).

Build one for tests with an in-memory or temp-file database and a manual clock:

    sessions = SessionFactory(make_engine(url)); upgrade(url)
    eng = Engine(settings, sessions, clock=ManualClock(t0), notifiers=[ConsoleNotifier()])
    await eng.start()
    await eng.on_bar(Bar(...)); await eng.tick()

The broker defaults to the paper broker (replay/paper modes) quoting the last bar seen;
live mode needs a broker passed in (`engine.execution.ccxt_broker.CcxtBroker`), so live
trading never happens by default.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import col, func, select

from engine.bus import EventBus, make_bus
from engine.bus.notifier import BusNotifier
from engine.clock import Clock, SystemClock
from engine.data.candles import Bar, timeframe_ms
from engine.data.newsbook import Headline, NewsBook
from engine.errors import ApprovalError, SentitradeError
from engine.events import RECORDED, ReconciliationMismatch, record
from engine.execution.approvals import (
    needs_approval,
)
from engine.execution.broker import Broker, MarketInfo
from engine.execution.emulation import OrderEmulator
from engine.execution.engine import ExecutionEngine
from engine.execution.paper import PaperBroker, Quote
from engine.execution.paper_futures import PaperFuturesBroker
from engine.execution.stoploss import protect_bots
from engine.outbox import ConsoleNotifier, Notifier, OutboxDispatcher
from engine.portfolio.wallet import Wallet
from engine.risk.checks import (
    BreakerMonitor,
    active_breakers,
)
from engine.risk.protections import ProtectionDesk
from engine.service import shorts
from engine.service.algodesk import AlgoDesk
from engine.service.api import (
    BacktestOutput,
    BalanceView,
    StrategyView,
)
from engine.service.bots import BotManager
from engine.service.desk import ProposalDesk
from engine.service.manual import ManualDesk
from engine.service.monitoring import RiskDesk
from engine.service.rebalancer import Rebalancer, is_rebalance
from engine.service.trading import StrategyLoop
from engine.service.views import EngineViews
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import (
    Balance,
    Bot,
    EquitySnapshot,
    Order,
    OrderState,
    Proposal,
    ProposalState,
    RiskEvent,
    Signal,
    Trade,
)

log = logging.getLogger("sentitrade.engine")
_NO_RANGE = (Decimal(0), Decimal("Infinity"))


def after_close(price: float) -> Quote:
    """The quote right after a candle closed: the price now, and an empty range (the new
    candle has traded nothing yet). The paper broker fills a resting limit order on a
    closed candle's range, as the backtester does (Freqtrade: on the first candle whose
    range reaches the price), never on the range of a candle before the order existed."""
    return Quote(Decimal(repr(price)), *_NO_RANGE)


@dataclass
class _View:
    """DB state the hot loop reads every candle, cached until something is written."""

    key: tuple[int, int]
    holdings: dict[tuple[int | None, str], Trade]
    balances: list[tuple[str, Decimal]]
    active: list[RiskEvent]
    working: bool
    next_expiry: datetime | None


@dataclass
class EngineStats:
    bars: int = 0
    signals: int = 0
    proposals: int = 0
    blocked: int = 0
    trips: int = 0


class Engine(ProposalDesk, RiskDesk, EngineViews, Wallet, AlgoDesk, ManualDesk):
    """The trading engine; implements `engine.service.api.TradingAPI`.

    Its parts: the candle path (here and `engine.service.trading`), proposals and
    approvals (`engine.service.desk`), breakers (`engine.service.monitoring`), money
    (`engine.portfolio.wallet`)."""

    def __init__(self, settings: Settings, sessions: SessionFactory | None = None, *,
                 clock: Clock | None = None, broker: Broker | None = None,
                 notifiers: Sequence[Notifier] = ()) -> None:
        self.settings = settings
        self.sessions = sessions or SessionFactory(make_engine(settings.database.url))
        self.clock: Clock = clock or SystemClock()
        self.quotes: dict[str, Quote] = {}
        ex = settings.exchange
        if broker is None:
            if ex.mode == "live":
                raise SentitradeError("live mode needs a live broker: use run_service, which "
                                      "builds one only with the explicit live flag")
            broker = PaperBroker(self.sessions, self.quotes.get, self.clock,
                                 maker_fee=ex.maker_fee, taker_fee=ex.taker_fee,
                                 slippage_bps=ex.slippage_bps)
            if shorts.futures_mode(settings):  # shorts, leverage, funding, liquidation
                broker = shorts.paper_broker(self.sessions, self.quotes.get, self.clock, settings)
        self.broker = broker
        self.monitor = BreakerMonitor(settings.risk)
        self.execution = ExecutionEngine(self.sessions, broker, self.clock,
                                         on_api_error=self._api_error)
        self.emulator = OrderEmulator(self.execution, self.quotes.get)  # stops it holds
        self.bots = BotManager(self.sessions, settings, self.clock)
        self.news = NewsBook(self.sessions, settings)
        self.strategies = StrategyLoop(self)
        self.protections = ProtectionDesk(settings.risk.protections)
        self._regimes: dict[str, tuple[int, str]] = {}  # series -> (last close ms, regime)
        self._started_at = self.clock.now()
        self.strategies.load()  # an unknown or broken strategy stops here, one line
        self.rebalancer = Rebalancer(self)  # basket bots (strategy = "rebalance")
        self.notifiers = list(notifiers) or [ConsoleNotifier()]
        self.bus: EventBus | None = None
        if settings.bus.url:  # other processes read every alert from the bus's streams
            self.bus = make_bus(settings.bus.url)
            self.notifiers.append(BusNotifier(self.bus))
        self.outbox = OutboxDispatcher(self.sessions, self.notifiers, self.clock)
        self.markets: dict[str, MarketInfo] = {}
        self.stats = EngineStats()
        self._lock = asyncio.Lock()
        self._last_snapshot: datetime | None = None
        self._view: _View | None = None

    def view(self) -> _View:
        """Cached reads for the per-candle path; refreshed after any booking or alert
        (every state change the engine makes books an order or records an event)."""
        key = (self.execution.version, RECORDED[0])
        if self._view is not None and self._view.key == key:
            return self._view
        with self.sessions() as s:
            trades = s.exec(select(Trade).where(col(Trade.is_open).is_(True))).all()
            bals = s.exec(select(Balance).where(Balance.account == self.broker.account)).all()
            active = active_breakers(s, self.clock.now())
            working = s.exec(select(func.count()).select_from(Order).where(
                col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED,
                                      OrderState.PENDING_CANCEL]))).one()
            nxt = s.exec(select(func.min(Proposal.expires_at)).where(
                Proposal.state == ProposalState.PENDING)).one()
        self._view = _View(key, {(t.bot_id, t.symbol): t for t in trades},
                           [(b.asset, b.free + b.locked) for b in bals], list(active),
                           bool(working), nxt)
        return self._view

    # ================================================================ lifecycle
    async def start(self, *, reconcile: bool = True) -> None:
        """Sync bots, seed the paper wallet, load markets, reconcile, rebuild baselines.

        A replay passes `reconcile=False` and reconciles once prices are warm."""
        self.bots.sync_specs()
        if isinstance(self.broker, PaperBroker | PaperFuturesBroker):
            self.broker.fund(self.settings.exchange.quote, self.settings.exchange.starting_balance)
        self.markets = await self.broker.load_markets()
        self.refresh_sentiment()
        if reconcile:
            await self.reconcile()
        self._rebuild_baselines()
        if reconcile:  # a replay resumes its algos once its clock is back (replay.py)
            await self.resume_algos()

    async def close(self) -> None:
        await self.broker.close()
        if self.bus is not None:
            await self.bus.close()

    def refresh_sentiment(self) -> list[Headline]:
        """Reload the stored news; the headlines new since the last reload."""
        return self.news.refresh()

    async def react_to_news(self, new: list[Headline]) -> list[Signal]:
        """Strategies with an `on_news` hook act on headlines that just arrived."""
        return await self.strategies.on_news(new) if new else []

    def _rebuild_baselines(self) -> None:
        with self.sessions() as s:
            last_clear = s.exec(select(func.max(RiskEvent.cleared_at))).one()
            q = select(func.max(EquitySnapshot.equity))
            if last_clear is not None:
                q = q.where(col(EquitySnapshot.ts) >= last_clear)
            peak = s.exec(q).one()
            # the episodes the equity rules already tripped in, since the last /resume
            q2 = select(RiskEvent).where(col(RiskEvent.rule).in_(
                ["daily_loss", "drawdown_pause", "drawdown_stop"]))
            if last_clear is not None:
                q2 = q2.where(col(RiskEvent.created_at) >= last_clear)
            for ev in s.exec(q2.order_by(col(RiskEvent.id))).all():
                episode = (ev.detail or {}).get("episode")
                if episode is not None:
                    self.monitor.episode[ev.rule] = str(episode)
        if peak is not None:
            self.monitor.peak = Decimal(str(peak))

    async def reconcile(self) -> list[str]:
        """Orders and balances vs the exchange; orphans (open at the exchange, unknown
        here) are alerted, never adopted or canceled silently."""
        notes = await self.execution.reconcile()
        await self.execution.sync_balances()
        fetch_open = getattr(self.broker, "fetch_open_client_ids", None)
        if fetch_open is not None:
            symbols = sorted({sym for b in self.bots.all() for sym in b.symbols})
            remote: dict[str, str] = await fetch_open(symbols)
            with self.sessions.begin() as s:
                known = set(s.exec(select(Order.client_order_id).where(
                    col(Order.client_order_id).in_(list(remote)))).all())
                for cid, sym in remote.items():
                    if cid not in known:
                        record(s, ReconciliationMismatch(
                            ts_event=self.clock.now(), key=f"orphan:{cid}",
                            detail=f"open order {cid} on {sym} at the exchange is not ours "
                                   "(placed by hand or by another tool): left untouched"))
                        notes.append(f"{cid}: orphan")
        return notes

    def _api_error(self, e: Exception) -> None:
        self.monitor.api_error(self.clock.now())

    def market(self, symbol: str) -> MarketInfo | None:
        m = self.markets.get(symbol)
        if (m is None and isinstance(self.broker, PaperBroker | PaperFuturesBroker)
                and symbol.count("/") == 1):
            m = self.broker.market(symbol)
            self.markets[symbol] = m
        return m

    # ================================================================ the loop
    async def on_bar(self, bar: Bar) -> list[Signal]:
        """A candle closed: quotes, each bot's strategy, proposals (auto ones executed)."""
        self.stats.bars += 1
        # the candle's open and close at their own times: with the default 60 s window
        # and 5m candles only the close counts (a spike rule needs sub-minute data:
        # 1m candles or ticks); a wider window also sees moves inside one candle
        step = timedelta(milliseconds=timeframe_ms(bar.timeframe))
        self.monitor.price(bar.symbol, bar.ts - step, bar.open)
        self.monitor.price(bar.symbol, bar.ts, bar.close)
        self.quotes[bar.symbol] = Quote(Decimal(repr(bar.close)), Decimal(repr(bar.high)),
                                        Decimal(repr(bar.low)))
        shorts.on_bar(self.broker, self.sessions, self.settings, bar)  # futures: funding, liq.
        out: list[Signal] = []
        for bot in self.bots.all():
            if bar.symbol not in bot.symbols or bot.timeframe != bar.timeframe \
                    or is_rebalance(bot):  # a basket: decided below, once all pairs closed
                continue
            sig = await self.strategies.on_bar(bot, bar)
            if sig is not None:
                out.append(sig)
        # the price now, right after the close (a replay knows it: the next open)
        now = bar.next_open if bar.next_open is not None else bar.close
        self.quotes[bar.symbol] = after_close(now)
        if self.rebalancer.params:
            await self.rebalancer.on_bar(bar)
        return out

    def warm(self, bar: Bar) -> None:
        """Feed the strategies' history without acting (replay resume, live start)."""
        self.quotes[bar.symbol] = Quote(Decimal(repr(bar.close)), Decimal(repr(bar.high)),
                                        Decimal(repr(bar.low)))
        for bot in self.bots.all():
            if bar.symbol in bot.symbols and bot.timeframe == bar.timeframe \
                    and not is_rebalance(bot):
                self.strategies.push(bot, bar)

    def holding(self, bot_id: int | None, symbol: str) -> Trade | None:
        return self.view().holdings.get((bot_id, symbol))

    def set_trade_stop(self, trade_id: int, stop: Decimal) -> None:
        """Record a trade's stop (set from its fill, or moved by a trailing stop)."""
        with self.sessions.begin() as s:
            t = s.get(Trade, trade_id)
            if t is not None and t.is_open:
                t.stop_price = stop

    async def finish_auto(self, bot: Bot, bar: Bar) -> None:
        """A restart re-processed a candle whose proposal exists: auto-approve it if the
        crash came between the proposal and its approval."""
        with self.sessions() as s:
            sig = s.exec(select(Signal).where(Signal.bot_id == bot.id, Signal.symbol == bar.symbol,
                                              Signal.timeframe == bar.timeframe,
                                              Signal.ts == bar.ts)).first()
            p = None if sig is None else s.exec(
                select(Proposal).where(Proposal.signal_id == sig.id)).first()
        if p is None or p.state != ProposalState.PENDING or p.id is None:
            return
        if needs_approval(bot.approval_mode, p.notional, self.settings.approvals.auto_max_notional):
            return
        try:
            await self.approve(p.id, "auto")
        except ApprovalError as e:
            log.info("auto approval of #%s refused: %s", p.id, e)

    async def tick(self) -> None:
        """After a candle step: working orders, expiry, breakers, snapshot, alerts."""
        v = self.view()
        if v.working:
            await self.emulator.check()
            await self.execution.poll_open()
        if v.holdings:  # strategies with stoploss_on_exchange keep a stop order per trade
            await protect_bots(self.execution, {b.id: self.strategies.loaded[b.name].strategy
                                                .order_types for b in self.bots.all()
                                                if b.id and b.name in self.strategies.loaded})
        if v.next_expiry is not None and v.next_expiry <= self.clock.now():
            await self.expire_due()
        await self.risk_monitor()
        await self.step_algos()  # after the breakers: a trip this tick stops the algos
        await self.drain_alerts(force=False)

    async def drain_alerts(self, force: bool = True) -> int:
        return await self.outbox.drain(force=force)

    # ================================================================ bots
    def list_bots(self) -> list[Bot]:
        return self.bots.all()

    async def start_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "start", by)

    async def stop_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "stop", by)

    async def pause_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "pause", by)

    async def balances(self) -> list[BalanceView]:
        bal = await self.broker.fetch_balances()
        return [BalanceView(a, f, lk) for a, (f, lk) in sorted(bal.items())]

    def strategy_info(self, bot: str | None = None) -> StrategyView:
        """The active strategy of `bot` (the only bot when None) and its parameters."""
        bots = self.bots.all()
        if bot is None and len(bots) != 1:
            raise SentitradeError(f"which bot? one of {', '.join(b.name for b in bots)}")
        b = bots[0] if bot is None else next((x for x in bots if x.name == bot), None)
        if b is None:
            raise SentitradeError(f"no bot {bot!r}: one of {', '.join(x.name for x in bots)}")
        if is_rebalance(b):  # a basket bot: its settings, not a strategy class
            return self.rebalancer.view(b)
        self.strategies.runtime(b)
        ls = self.strategies.loaded[b.name]
        return StrategyView(b.name, ls.strategy.name, type(ls.strategy).__name__,
                            str(ls.file) if ls.file else "built-in", b.timeframe, ls.values(),
                            dict(ls.sources), str(ls.params_file),
                            str(ls.params_file) in ls.sources.values())

    # ================================================================ research
    async def backtest(self, pair: str, timeframe: str, days: int,
                       strategy: str) -> BacktestOutput:
        """Backtest `strategy` (with its hyperopt file and the stored news) on the last
        `days` days of stored candles, off the event loop (`engine.service.research`)."""
        from engine.service.research import chat_backtest

        return await asyncio.to_thread(chat_backtest, self.settings, self.sessions, pair,
                                       timeframe, days, strategy)
