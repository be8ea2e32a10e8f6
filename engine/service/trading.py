"""The per-candle trading path: the bot's strategy decides, risk checks, proposals.

On every closed candle of a bot's pair and timeframe, in the backtester's order:

1. the candle and its point-in-time sentiment columns join the pair's history;
2. an open trade meets the exit rules on this candle (`engine.strategy.exits`: stop,
   ROI, trailing), which exit at once at the rule's rate (a replay's paper broker fills
   at it; live, a market order fills at the market);
3. the strategy runs on the history (`engine.strategy.runtime`); an entry (no trade
   held) or an exit signal (trade held) becomes a `Signal` row and a risk-checked
   `Proposal`, auto-approved or sent to the chat by the bot's approval mode. What is
   decided at a close executes at the first price after it: in a replay the next
   candle's open, exactly the backtester's fill.

Spot by default: a strategy's short signals are recorded but never traded. With
``[exchange] trading_mode = "futures"`` shorts and leverage go through
`engine.service.shorts` (decisions, intents, leverage and margin mode, funding and
liquidation watch).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from engine.data.candles import Bar, timeframe_ms
from engine.data.newsbook import Headline
from engine.data.pricestep import round_tick
from engine.errors import ApprovalError
from engine.events import ProposalCreated, record
from engine.execution.approvals import ProposalTrigger, needs_approval, transition
from engine.execution.paper import Quote
from engine.risk.checks import Intent, closed_pnl_ratios, pre_trade, size_position
from engine.service import shorts
from engine.service.decisions import Decision
from engine.service.decisions import dec as _d
from engine.service.orderflow import OrderFlow
from engine.storage.models import Bot, BotState, Proposal, ProposalState, Signal, Trade
from engine.strategy.exits import Exit, Position, check_exit, initial_stop
from engine.strategy.interface import NewsEvent, Strategy, call_strategy
from engine.strategy.params import LoadedStrategy, load_strategy
from engine.strategy.runtime import RowSignal, StrategyRuntime
from sentiment.aggregate import base_symbol

if TYPE_CHECKING:
    from engine.service.engine import Engine

log = logging.getLogger("sentitrade.engine")


class StrategyLoop:
    """Runtimes of every bot; owned by the `Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.loaded: dict[str, LoadedStrategy] = {}
        self.runtimes: dict[str, StrategyRuntime] = {}
        self.positions: dict[int, Position] = {}
        self.flow = OrderFlow(self)

    def load(self) -> None:
        """Load every configured bot's strategy with its parameters; a missing or broken
        strategy raises `StrategyError` naming it (the start stops before trading)."""
        for spec in self.eng.settings.bots:
            if spec.strategy == "rebalance":  # a basket bot: `engine.service.rebalancer`
                continue
            self._build(spec.name, spec.strategy, spec.timeframe, spec.params)

    def _build(self, name: str, strategy: str, timeframe: str,
               params: dict[str, Any] | None = None) -> StrategyRuntime:
        es = self.eng.settings.engine
        ls = load_strategy(strategy, es.strategy_path, params)
        self.loaded[name] = ls
        rt = StrategyRuntime(ls.strategy, timeframe, history_candles=es.history_candles)
        self.runtimes[name] = rt
        return rt

    def runtime(self, bot: Bot) -> StrategyRuntime:
        rt = self.runtimes.get(bot.name)
        if rt is None:  # a bot row with no spec (removed from the settings): its strategy
            rt = self._build(bot.name, bot.strategy, bot.timeframe)
        return rt

    def push(self, bot: Bot, bar: Bar) -> bool:
        """Add the candle (with its sentiment at the close) to the bot's history."""
        rt = self.runtime(bot)
        tf = timeframe_ms(bar.timeframe)
        close_ms = bar.close_ms
        row = {"date": float(close_ms - tf), "close_time": float(close_ms), "open": bar.open,
               "high": bar.high, "low": bar.low, "close": bar.close, "volume": bar.volume}
        row.update(self.eng.news.columns(bar.symbol, close_ms, tf))
        return rt.push(bar.symbol, row, bar.tick)

    # ------------------------------------------------------------ the candle
    async def on_bar(self, bot: Bot, bar: Bar) -> Signal | None:
        if not self.push(bot, bar):
            return None  # a candle seen before never decides twice
        if bot.state == BotState.STOPPED:
            return None
        rt = self.runtime(bot)
        if rt.strategy.uses_orders():
            return await self.flow.on_bar(bot, bar, rt)
        trade = self.eng.holding(bot.id, bar.symbol)
        if trade is not None:
            ex = self._exit_rule(rt, trade, bar)
            if ex is not None:
                why = (f"{ex.reason} at {ex.rate:.10g} (candle low {bar.low:.10g}, "
                       f"high {bar.high:.10g})")
                await self._act(bot, bar, trade,
                                Decision("exit", (ex.reason, why), {"rate": ex.rate}, rule=ex),
                                at_price=ex.rate, record_signal=False)
                trade = self.eng.holding(bot.id, bar.symbol)
                if trade is not None:  # the exit could not fill: no new decision now
                    return None
        # every candle is evaluated, from the first: the backtester reads the signal
        # columns on every row too (`startup_candle_count` only sizes the history)
        sig = rt.evaluate(bar.symbol)
        if shorts.futures_mode(self.eng.settings):  # shorts, leverage
            fd = shorts.decide(rt, sig, trade, bot, bar, self.eng.settings, self._why)
            d = None if fd is None else Decision(fd.direction, fd.reasons, fd.inputs,
                                                 fd.stake_scale)
        else:
            d = self._decide(rt, sig, trade, bot)
        if d is None:
            return None
        if "sentiment" in d.inputs or d.reasons[0].startswith("event"):
            heads = [f"headline: {h.title}" for h in self.eng.news.about(bar.symbol, 2)
                     if h.published_at <= bar.ts]
            d = Decision(d.direction, (*d.reasons, *heads), d.inputs, d.stake_scale)
        if bar.next_open is None:
            price = bar.close
        elif d.direction in ("long", "short"):  # an entry's proposed rate is on the step
            price = float(round_tick(bar.next_open, bar.next_tick))
        else:
            price = bar.next_open
        return await self._act(bot, bar, trade, d, at_price=price, record_signal=True)

    def _decide(self, rt: StrategyRuntime, sig: RowSignal, trade: Trade | None,
                bot: Bot) -> Decision | None:
        name = rt.strategy.name
        if trade is None:
            if not sig.enter_long or sig.exit_long or sig.enter_short:
                return None
            if bot.state != BotState.RUNNING:
                return None
            tag = sig.enter_tag or "enter_long"
            return Decision("long", (tag, self._why(name, "entry", sig)), sig.inputs,
                            sig.stake_scale)
        if sig.exit_long and not sig.enter_long:
            return Decision("exit", (sig.exit_tag, self._why(name, "exit", sig)), sig.inputs)
        return None

    @staticmethod
    def _why(name: str, what: str, sig: RowSignal) -> str:
        shown = ", ".join(f"{k} {v:.6g}" for k, v in list(sig.inputs.items())[:8])
        return f"{name} {what}: {shown}" if shown else f"{name} {what}"

    def _exit_rule(self, rt: StrategyRuntime, trade: Trade, bar: Bar) -> Exit | None:
        if trade.id is None:
            return None
        pos = self.positions.get(trade.id)
        tf = timeframe_ms(bar.timeframe)
        if pos is None:
            # first look at this trade (just filled, or after a restart): the stop
            # from the real fill rate, on the step of the candle it filled in
            rate = float(trade.open_price)
            fee_open = float(self.eng.settings.exchange.taker_fee)
            tick = bar.tick
            stop = initial_stop(rt.strategy, rate, tick, trade.side == "short")
            trailing = False
            stored = float(trade.stop_price) if trade.stop_price is not None else None
            if (stored is not None and rt.strategy.trailing_stop and stop == stop
                    and stored > stop):
                stop, trailing = stored, True  # a trailing stop had moved before a restart
            pos = Position(rate, float(trade.amount), fee_open,
                           round(trade.open_at.timestamp() * 1000), tick, stop, trailing,
                           trade.side == "short")
            self.positions[trade.id] = pos
            if stop == stop and stored != stop:
                self.eng.set_trade_stop(trade.id, _d(stop))
        before = pos.stop
        ex = self.eng.settings.exchange
        # no slippage here: the broker applies its own to the fill (paper: slippage_bps)
        out = check_exit(rt.strategy, pos, bar.open, bar.high, bar.low, bar.close_ms - tf, tf,
                         float(ex.taker_fee), float(ex.maker_fee))
        if pos.stop != before and pos.stop == pos.stop and out is None:
            self.eng.set_trade_stop(trade.id, _d(pos.stop))
        return out

    # ------------------------------------------------------------ proposals
    async def propose(self, bot: Bot, bar: Bar, trade: Trade | None, d: Decision, *,
                      at_price: float) -> Signal | None:
        """A decision from outside the candle path (a webhook's alert): the same signal
        row, risk checks, pair locks and proposal as the strategy's own decisions."""
        return await self._act(bot, bar, trade, d, at_price=at_price, record_signal=True)

    async def _act(self, bot: Bot, bar: Bar, trade: Trade | None, d: Decision, *,
                   at_price: float, record_signal: bool) -> Signal | None:
        """Signal row (strategy decisions), risk check, proposal; auto ones executed at
        `at_price` (the paper broker fills there; a live order at the market)."""
        eng = self.eng
        now = eng.clock.now()
        price = _d(at_price)
        eng.quotes[bar.symbol] = Quote(price)
        approvals = eng.settings.approvals
        force = d.rule is not None or d.forced
        order_price = _d(d.limit) if d.limit is not None else price
        auto_pid = self._exit_made_before(trade, now) if force else None
        sig: Signal | None = None
        if auto_pid is not None:
            # this candle's exit was committed before a crash and the resumed replay runs
            # the candle again: finish that proposal here, at the same point and price
            await self._finish(auto_pid)
            self._forget_if_closed(bot, bar, trade)
            return None
        try:
            with eng.sessions.begin() as s:
                if record_signal:
                    sig = Signal(bot_id=bot.id, symbol=bar.symbol, timeframe=bar.timeframe,
                                 ts=bar.ts, direction=d.direction, strength=1.0,
                                 confidence=float(d.stake_scale),
                                 technical_score=float(d.inputs.get("technical", 0.0)),
                                 sentiment_score=d.inputs.get("sentiment"), price=price,
                                 inputs=dict(d.inputs), created_at=now)
                    s.add(sig)
                    s.flush()
                    eng.stats.signals += 1
                pending = s.exec(select(Proposal).where(
                    Proposal.bot_id == bot.id, Proposal.symbol == bar.symbol,
                    col(Proposal.state).in_([ProposalState.PENDING, ProposalState.APPROVED]))
                ).first()
                if pending is not None and force and pending.state == ProposalState.PENDING:
                    # an exit rule never waits behind a proposal nobody decided yet
                    transition(s, pending, ProposalTrigger.REJECT, by="engine", at=now,
                               note=f"superseded by {d.reasons[0]}")
                    pending = None
                if pending is not None:
                    if sig is not None:
                        sig.inputs = {**sig.inputs, "skipped": f"proposal #{pending.id} open"}
                    return sig
                m = eng.market(bar.symbol)
                ctx = eng.risk_context(s, bar.symbol)
                rate = d.limit if d.limit is not None else at_price
                if d.direction in ("long", "short"):
                    if d.amount is not None:  # a position adjustment: the strategy's stake
                        amount = _d(d.amount)
                    else:
                        stake = size_position(ctx.equity, price, eng.settings.risk,
                                              closed_pnl_ratios=closed_pnl_ratios(s, bot.id),
                                              atr=d.inputs.get("atr"))
                        scale = max(0.0, float(d.stake_scale))
                        amount = _d(float(stake) * scale / rate) if rate > 0 else Decimal(0)
                    if m is not None:
                        amount = m.round_amount(amount)
                    intent = Intent(bar.symbol, "buy", "enter", amount, order_price)
                    intent = shorts.entry_intent(intent, d.direction, d.inputs, m, eng.settings)
                    amount = intent.amount
                    stop = self._stop_estimate(bot, rate, bar.next_tick if d.limit is not None
                                               else bar.tick)
                    trade_id = d.trade_id
                else:
                    assert trade is not None
                    amount = _d(d.amount) if d.amount is not None else trade.amount
                    intent = Intent(bar.symbol, "sell", "exit", amount, order_price)
                    intent = shorts.exit_intent(intent, trade)
                    stop, trade_id = None, trade.id
                reason = None if force else pre_trade(intent, ctx, eng.settings.risk)
                if reason is None and not force and intent.intent == "enter":
                    reason = eng.protections.blocked(s, bot.id, bar.symbol, bot.timeframe, now)
                if reason is None and amount <= 0:
                    reason = "stake too small for one unit"
                if reason is not None:
                    if sig is not None:
                        sig.inputs = {**sig.inputs, "blocked": reason}
                    eng.stats.blocked += 1
                    return sig
                notional = (amount * order_price).quantize(Decimal("0.01"))
                ask = (not force) and needs_approval(bot.approval_mode, notional,
                                                     approvals.auto_max_notional)
                p = Proposal(bot_id=bot.id, signal_id=sig.id if sig else None,
                             trade_id=trade_id, symbol=bar.symbol, side=intent.side,
                             intent=intent.intent, amount=amount, ref_price=price,
                             stop_price=stop, notional=notional, reasons=list(d.reasons),
                             order_type="limit" if d.limit is not None else None,
                             limit_price=order_price if d.limit is not None else None,
                             state=ProposalState.PENDING, created_at=now,
                             expires_at=now + timedelta(seconds=approvals.expiry_seconds))
                s.add(p)
                s.flush()
                assert p.id is not None
                eng.stats.proposals += 1
                record(s, ProposalCreated(
                    ts_event=now, proposal_id=p.id, bot=bot.name, symbol=p.symbol, side=p.side,
                    intent=p.intent, amount=amount, ref_price=price, notional=notional,
                    stop_price=stop, reasons=list(d.reasons), expires_at=p.expires_at,
                    needs_approval=ask))
                if not ask:
                    auto_pid = p.id
        except IntegrityError:
            # this candle was already processed (replay after a restart): finish its
            # pipeline where the crash cut it: a proposal not yet auto-approved, or an
            # approved one whose order was committed but never sent
            await eng.finish_auto(bot, bar)
            pid = self._candle_proposal(bot, bar)
            if pid is not None:
                await self._finish(pid, approve=False)
            return None
        if d.direction != "exit":  # futures: the account's leverage before any order
            await shorts.prepare(eng.broker, bar.symbol, d.inputs, eng.settings)
        if auto_pid is not None:
            await self._finish(auto_pid)
        if d.direction == "exit":
            self._forget_if_closed(bot, bar, trade)
        return sig

    async def _finish(self, proposal_id: int, *, approve: bool = True) -> None:
        """Auto-approve `proposal_id` (a repeat approval sends an order that was stored
        but never sent); `approve=False` only sends such an order."""
        eng = self.eng
        if not approve:
            p = eng.get_proposal(proposal_id)
            if p is None or p.state != ProposalState.APPROVED:
                return
        try:
            await eng.approve(proposal_id, "auto")
        except ApprovalError as e:
            log.info("auto approval of #%s refused: %s", proposal_id, e)

    def _forget_if_closed(self, bot: Bot, bar: Bar, trade: Trade | None) -> None:
        if (trade is not None and trade.id is not None
                and self.eng.holding(bot.id, bar.symbol) is None):
            self.positions.pop(trade.id, None)

    def _exit_made_before(self, trade: Trade | None, now: datetime) -> int | None:
        """The open exit proposal of `trade` made at this very time (this candle, seen
        again by a replay resumed after a crash), if any. Live, the clock never repeats."""
        if trade is None or trade.id is None:
            return None
        with self.eng.sessions() as s:
            return s.exec(select(Proposal.id).where(
                Proposal.trade_id == trade.id, Proposal.intent == "exit",
                Proposal.created_at == now,
                col(Proposal.state).in_([ProposalState.PENDING, ProposalState.APPROVED]))
            ).first()

    def _candle_proposal(self, bot: Bot, bar: Bar) -> int | None:
        """The proposal made from this candle's signal, if any."""
        with self.eng.sessions() as s:
            return s.exec(select(Proposal.id).join(Signal, col(Signal.id) == Proposal.signal_id)
                          .where(Signal.bot_id == bot.id, Signal.symbol == bar.symbol,
                                 Signal.timeframe == bar.timeframe, Signal.ts == bar.ts)).first()

    # ------------------------------------------------------------ news between candles
    async def on_news(self, new: list[Headline]) -> list[Signal]:
        """Ask each strategy that has an `on_news` hook about each new headline naming
        one of its pairs; a yes proposes an entry now at the last price."""
        out: list[Signal] = []
        for bot in self.eng.bots.all():
            if bot.state != BotState.RUNNING:
                continue
            rt = self.runtime(bot)
            if type(rt.strategy).on_news is Strategy.on_news:
                continue
            tf = timeframe_ms(bot.timeframe)
            for h in new:
                for symbol in bot.symbols:
                    if base_symbol(symbol) not in h.symbols:
                        continue
                    row = rt.last_inputs(symbol)
                    if not row:
                        continue
                    if self.eng.holding(bot.id, symbol) is not None:
                        continue
                    now = self.eng.clock.now()
                    cols = self.eng.news.columns(symbol, round(now.timestamp() * 1000), tf)
                    ev = NewsEvent(symbol, h.title, round(h.published_at.timestamp() * 1000),
                                   h.score, h.event_type, h.impact, cols["sentiment"],
                                   cols["sentiment_confidence"])
                    last = {**row, **cols}
                    if not call_strategy(rt.strategy, "on_news", ev, last):
                        continue
                    b = rt.buffer(symbol)
                    close = float(b.column("close")[b.n - 1])
                    bar = Bar(symbol, bot.timeframe, now, close, close, close, close, 0.0)
                    conf = cols["sentiment_confidence"]
                    d = Decision("long", ("on_news", f"headline: {h.title}",
                                          f"sentiment {cols['sentiment']:+.2f}, impact "
                                          f"{h.impact}"), last, max(0.25, min(1.0, conf)))
                    sig = await self._act(bot, bar, None, d, at_price=close,
                                          record_signal=True)
                    if sig is not None:
                        out.append(sig)
        return out

    def _stop_estimate(self, bot: Bot, rate: float, tick: int) -> Decimal | None:
        """The stop the trade will get at this fill rate (shown on the proposal; the
        trade's own is set from its real fill)."""
        stop = initial_stop(self.runtime(bot).strategy, rate, tick)
        return _d(stop) if stop == stop else None

    def describe(self, bot_name: str) -> LoadedStrategy | None:
        return self.loaded.get(bot_name)
