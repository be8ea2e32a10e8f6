"""`Engine`: the trading core behind `TradingAPI`, and `run_service` (`sentitrade run`).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, func, select

from engine.clock import Clock, SystemClock
from engine.data.candles import Bar, timeframe_ms
from engine.data.newsbook import NewsBook
from engine.errors import ApprovalError, SentitradeError
from engine.events import (
    RECORDED,
    BreakerCleared,
    ConsoleNotifier,
    DailySummary,
    JobFailed,
    Notifier,
    OutboxDispatcher,
    ProposalApproved,
    ProposalExpired,
    ProposalRefused,
    ProposalRejected,
    ReconciliationMismatch,
    record,
)
from engine.execution.approvals import (
    ProposalTrigger,
    check_decidable,
    due_for_expiry,
    needs_approval,
    transition,
)
from engine.execution.broker import Broker, MarketInfo
from engine.execution.engine import ExecutionEngine
from engine.execution.paper import PaperBroker, Quote
from engine.risk.checks import (
    BreakerMonitor,
    Intent,
    RiskContext,
    Trip,
    active_breakers,
    pre_trade,
    trading_state,
    write_trip,
)
from engine.service.api import (
    Attachment,
    BacktestOutput,
    BalanceView,
    BreakerState,
    Decision,
    RiskStatus,
    StrategyView,
    TradingAPI,
)
from engine.service.bots import BotManager
from engine.service.trading import StrategyLoop
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


class Engine:
    """The trading engine; implements `engine.service.api.TradingAPI`."""

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
        self.broker = broker
        self.monitor = BreakerMonitor(settings.risk)
        self.execution = ExecutionEngine(self.sessions, broker, self.clock,
                                         on_api_error=self._api_error)
        self.bots = BotManager(self.sessions, settings, self.clock)
        self.news = NewsBook(self.sessions, settings)
        self.strategies = StrategyLoop(self)
        self.strategies.load()  # an unknown or broken strategy stops here, one line
        self.notifiers = list(notifiers) or [ConsoleNotifier()]
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
        if isinstance(self.broker, PaperBroker):
            self.broker.fund(self.settings.exchange.quote, self.settings.exchange.starting_balance)
        self.markets = await self.broker.load_markets()
        self.refresh_sentiment()
        if reconcile:
            await self.reconcile()
        self._rebuild_baselines()

    async def close(self) -> None:
        await self.broker.close()

    def refresh_sentiment(self) -> None:
        self.news.refresh()

    def _rebuild_baselines(self) -> None:
        with self.sessions() as s:
            last_clear = s.exec(select(func.max(RiskEvent.cleared_at))).one()
            q = select(func.max(EquitySnapshot.equity))
            if last_clear is not None:
                q = q.where(col(EquitySnapshot.ts) >= last_clear)
            peak = s.exec(q).one()
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
        if m is None and isinstance(self.broker, PaperBroker) and symbol.count("/") == 1:
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
        out: list[Signal] = []
        for bot in self.bots.all():
            if bar.symbol not in bot.symbols or bot.timeframe != bar.timeframe:
                continue
            sig = await self.strategies.on_bar(bot, bar)
            if sig is not None:
                out.append(sig)
        # the price now, right after the close (a replay knows it: the next open)
        now = bar.next_open if bar.next_open is not None else bar.close
        self.quotes[bar.symbol] = Quote(Decimal(repr(now)), Decimal(repr(bar.high)),
                                        Decimal(repr(bar.low)))
        return out

    def warm(self, bar: Bar) -> None:
        """Feed the strategies' history without acting (replay resume, live start)."""
        self.quotes[bar.symbol] = Quote(Decimal(repr(bar.close)), Decimal(repr(bar.high)),
                                        Decimal(repr(bar.low)))
        for bot in self.bots.all():
            if bar.symbol in bot.symbols and bot.timeframe == bar.timeframe:
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
            await self.execution.poll_open()
        if v.next_expiry is not None and v.next_expiry <= self.clock.now():
            await self.expire_due()
        await self.risk_monitor()
        await self.drain_alerts(force=False)

    async def drain_alerts(self, force: bool = True) -> int:
        return await self.outbox.drain(force=force)

    # ================================================================ money
    def equity(self, s: Session | None = None) -> Decimal:
        """Quote value of the wallet at the last prices (cached view when no session)."""
        quote = self.settings.exchange.quote
        total = Decimal(0)
        if s is None:
            rows = self.view().balances
        else:
            rows = [(b.asset, b.free + b.locked) for b in s.exec(
                select(Balance).where(Balance.account == self.broker.account)).all()]
        for asset, amt in rows:
            if asset == quote:
                total += amt
            else:
                q = self.quotes.get(f"{asset}/{quote}")
                if q is not None:
                    total += amt * q.last
        return total

    def risk_context(self, s: Session, symbol: str) -> RiskContext:
        quote = self.settings.exchange.quote
        now = self.clock.now()
        exposure: dict[str, Decimal] = {}
        free_quote = Decimal(0)
        for b in s.exec(select(Balance).where(Balance.account == self.broker.account)).all():
            if b.asset == quote:
                free_quote = b.free
                continue
            q = self.quotes.get(f"{b.asset}/{quote}")
            if q is not None and b.free + b.locked > 0:
                exposure[b.asset] = (b.free + b.locked) * q.last
        day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
        open_n = s.exec(select(func.count()).select_from(Trade)
                        .where(col(Trade.is_open).is_(True))).one()
        today = s.exec(select(func.count()).select_from(Trade)
                       .where(col(Trade.open_at) >= day0)).one()
        active = active_breakers(s, now)
        paused_ex = any(e.action == "pause_exchange" for e in active)
        return RiskContext(self.equity(s), free_quote, exposure, int(open_n), int(today),
                           self.market(symbol), trading_state(active), paused_ex)

    # ================================================================ proposals
    def pending_proposals(self) -> list[Proposal]:
        with self.sessions() as s:
            return list(s.exec(select(Proposal).where(Proposal.state == ProposalState.PENDING)
                               .order_by(col(Proposal.id))).all())

    def get_proposal(self, proposal_id: int) -> Proposal | None:
        with self.sessions() as s:
            return s.get(Proposal, proposal_id)

    def _order_for(self, proposal_id: int) -> Order | None:
        with self.sessions() as s:
            return s.exec(select(Order).where(Order.proposal_id == proposal_id)).first()

    async def approve(self, proposal_id: int, by: str) -> Decision:
        """Re-validate (expiry, drift, risk), then place the order before returning."""
        async with self._lock:
            now = self.clock.now()
            refusal: str | None = None
            order_id: int | None = None
            with self.sessions.begin() as s:
                p = s.get(Proposal, proposal_id)
                if p is None:
                    raise ApprovalError(f"no proposal #{proposal_id}")
                if not check_decidable(p, ProposalTrigger.APPROVE, now):
                    o = s.exec(select(Order).where(Order.proposal_id == p.id)).first()
                    repeat = True
                else:
                    repeat = False
                    if now >= p.expires_at:
                        transition(s, p, ProposalTrigger.EXPIRE, by="engine", at=now)
                        record(s, ProposalExpired(ts_event=now, proposal_id=p.id or 0, by="engine"))
                        refusal = (f"proposal #{p.id} expired at {p.expires_at:%H:%M:%S} UTC: "
                                   "it can no longer be approved")
                    else:
                        refusal = self._revalidate(s, p)
                        if refusal is not None:
                            transition(s, p, ProposalTrigger.REFUSE, by=by, at=now, note=refusal)
                            record(s, ProposalRefused(ts_event=now, proposal_id=p.id or 0, by=by,
                                                      note=refusal))
                        elif transition(s, p, ProposalTrigger.APPROVE, by=by, at=now):
                            record(s, ProposalApproved(ts_event=now, proposal_id=p.id or 0,
                                                       by=by))
                            m = self.market(p.symbol)
                            amount = m.round_amount(p.amount) if m is not None else p.amount
                            order_id = self.execution.create_order_row(s, p, amount=amount).id
            if refusal is not None:
                raise ApprovalError(refusal)
            if repeat:
                if o is not None and o.state == OrderState.PENDING_CREATE and o.id is not None:
                    o = await self.execution.submit(o.id)
                return Decision(p, False, o, f"proposal #{p.id} already {p.state}")
            assert order_id is not None
            order = await self.execution.submit(order_id)
            p2 = self.get_proposal(proposal_id)
            assert p2 is not None
            msg = f"proposal #{proposal_id} approved by {by}: order {order.client_order_id} " \
                  f"{order.state}"
            return Decision(p2, True, order, msg)

    def _revalidate(self, s: Session, p: Proposal) -> str | None:
        q = self.quotes.get(p.symbol)
        if q is not None and p.ref_price > 0:
            drift = abs(float(q.last / p.ref_price) - 1) * 100
            if drift > self.settings.approvals.max_price_drift_pct:
                return (f"price moved {drift:.2f}% since the proposal ({p.ref_price} -> "
                        f"{q.last}) > max {self.settings.approvals.max_price_drift_pct}%")
        price = q.last if q is not None else p.ref_price
        if p.intent == "exit":
            t = s.get(Trade, p.trade_id) if p.trade_id else None
            if t is None or not t.is_open:
                return f"trade #{p.trade_id} is no longer open"
        ctx = self.risk_context(s, p.symbol)
        return pre_trade(Intent(p.symbol, p.side, p.intent, p.amount, price), ctx,
                         self.settings.risk)

    async def reject(self, proposal_id: int, by: str) -> Decision:
        async with self._lock:
            now = self.clock.now()
            with self.sessions.begin() as s:
                p = s.get(Proposal, proposal_id)
                if p is None:
                    raise ApprovalError(f"no proposal #{proposal_id}")
                if not check_decidable(p, ProposalTrigger.REJECT, now):
                    return Decision(p, False, None, f"proposal #{p.id} already rejected")
                if not transition(s, p, ProposalTrigger.REJECT, by=by, at=now):
                    raise ApprovalError(f"proposal #{p.id} was decided concurrently; try again")
                record(s, ProposalRejected(ts_event=now, proposal_id=p.id or 0, by=by))
            return Decision(p, True, None, f"proposal #{proposal_id} rejected by {by}")

    async def expire_due(self) -> int:
        now = self.clock.now()
        n = 0
        with self.sessions.begin() as s:
            for p in due_for_expiry(s, now):
                if transition(s, p, ProposalTrigger.EXPIRE, by="engine", at=now):
                    record(s, ProposalExpired(ts_event=now, proposal_id=p.id or 0, by="engine"))
                    n += 1
        return n

    # ================================================================ bots
    def list_bots(self) -> list[Bot]:
        return self.bots.all()

    async def start_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "start", by)

    async def stop_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "stop", by)

    async def pause_bot(self, name: str | None, by: str) -> Bot:
        return self.bots.set_state(name, "pause", by)

    def strategy_info(self, bot: str | None = None) -> StrategyView:
        """The active strategy of `bot` (the only bot when None) and its parameters."""
        bots = self.bots.all()
        if bot is None and len(bots) != 1:
            raise SentitradeError(f"which bot? one of {', '.join(b.name for b in bots)}")
        b = bots[0] if bot is None else next((x for x in bots if x.name == bot), None)
        if b is None:
            raise SentitradeError(f"no bot {bot!r}: one of {', '.join(x.name for x in bots)}")
        self.strategies.runtime(b)
        ls = self.strategies.loaded[b.name]
        return StrategyView(b.name, ls.strategy.name, type(ls.strategy).__name__,
                            str(ls.file) if ls.file else "built-in", b.timeframe, ls.values(),
                            dict(ls.sources), str(ls.params_file),
                            str(ls.params_file) in ls.sources.values())

    # ================================================================ positions
    def open_trades(self) -> list[Trade]:
        with self.sessions() as s:
            return list(s.exec(select(Trade).where(col(Trade.is_open).is_(True))
                               .order_by(col(Trade.id))).all())

    async def last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        return {s: self.quotes[s].last for s in symbols if s in self.quotes}

    async def balances(self) -> list[BalanceView]:
        bal = await self.broker.fetch_balances()
        return [BalanceView(a, f, lk) for a, (f, lk) in sorted(bal.items())]

    async def force_exit(self, trade_id: int | None, by: str) -> list[Trade]:
        """Sell the given open trade (all when None) at market now, bypassing policy."""
        trades = [t for t in self.open_trades() if trade_id is None or t.id == trade_id]
        if trade_id is not None and not trades:
            raise SentitradeError(f"no open trade #{trade_id}")
        now = self.clock.now()
        out: list[Trade] = []
        for t in trades:
            q = self.quotes.get(t.symbol)
            price = q.last if q is not None else t.open_price
            async with self._lock:
                with self.sessions.begin() as s:
                    existing = s.exec(select(Proposal).where(
                        Proposal.trade_id == t.id,
                        col(Proposal.state).in_([ProposalState.PENDING,
                                                 ProposalState.APPROVED]))).all()
                    for e in existing:
                        if e.state == ProposalState.PENDING:
                            transition(s, e, ProposalTrigger.REJECT, by=by, at=now,
                                       note="superseded by force exit")
                    p = Proposal(bot_id=t.bot_id, trade_id=t.id, symbol=t.symbol, side="sell",
                                 intent="exit", amount=t.amount, ref_price=price,
                                 notional=(t.amount * price).quantize(Decimal("0.01")),
                                 reasons=[f"force exit by {by}"], state=ProposalState.PENDING,
                                 created_at=now, expires_at=now + timedelta(minutes=5))
                    s.add(p)
                    s.flush()
                    transition(s, p, ProposalTrigger.APPROVE, by=by, at=now)
                    record(s, ProposalApproved(ts_event=now, proposal_id=p.id or 0, by=by,
                                               note="force exit"))
                    oid = self.execution.create_order_row(s, p).id
                assert oid is not None
                await self.execution.submit(oid)
            with self.sessions() as s:
                t2 = s.get(Trade, t.id)
                assert t2 is not None
                out.append(t2)
        return out

    # ================================================================ risk
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
                    Order.symbol == trip.scope,
                    col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED]))).all()
            for o in working:
                await self.execution.cancel(o.id or 0, f"price spike {trip.measured:.1f}%")
        return ev

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

    # ================================================================ research
    async def backtest(self, pair: str, timeframe: str, days: int,
                       strategy: str) -> BacktestOutput:
        """Backtest `strategy` (with its hyperopt file and the stored news) on the last
        `days` days of stored candles, off the event loop (`engine.service.research`)."""
        from engine.service.research import chat_backtest

        return await asyncio.to_thread(chat_backtest, self.settings, self.sessions, pair,
                                       timeframe, days, strategy)


def run_service(settings: Settings, notifiers: Sequence[Notifier] = (),
                attach: Callable[[TradingAPI], Attachment] | None = None) -> None:
    """`sentitrade run`: migrate, build the engine, run the scheduler until Ctrl-C.

    `attach` builds what runs beside the engine (the CLI passes the chat transports)."""
    from engine.service.scheduler import serve

    asyncio.run(serve(settings, notifiers, attach=attach))
