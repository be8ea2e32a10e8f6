"""The live side of `rebalance`: a bot type that keeps a basket at its target weights,
with ONE proposal listing every leg.

Why not a per-pair strategy: a rebalance sells one pair to pay for another in the same
instant, so it is decided over the whole basket at once. A bot with
``strategy = "rebalance"`` is therefore not run by `StrategyLoop`; the engine hands
every closed candle to `Rebalancer.on_bar`, which waits until each pair of the basket
has closed the same candle, then decides exactly as the basket backtest
(`engine.backtest.rebalance`) does at the next candle's open (a replay knows that
price; live it is the last close):

- the first time (no rebalance proposal yet for the bot): buy the targets;
- then ``every`` (a period: on candles opening at a multiple of it, UTC), and/or
  ``threshold`` (a drift from the targets; with both, checked only at the periods).

The legs come from the SAME planner (`engine.portfolio.rebalance.plan_rebalance`) over
the bot's holdings (its open trades) and the quote cash, fees at the taker rate. The
proposal (``legs`` JSON, ``symbol = "BASKET"``) follows the bot's approval mode like
any other; approving it (`basket_orders`) makes one approved child proposal and one
market order per leg, sells first; rejecting or expiring it places nothing.

Bot params (``[[bots]] params``): ``weights`` (pair -> weight; default 1/N), ``every``
(default ``"1d"``; ``""`` for none), ``threshold`` (e.g. 0.05), ``min_trade`` (quote,
default 10).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from engine.data.candles import Bar, timeframe_ms
from engine.errors import ApprovalError, ExchangeError, SentitradeError
from engine.events import ProposalCreated, record
from engine.execution.approvals import ProposalTrigger, needs_approval, transition
from engine.portfolio.rebalance import drift, plan_rebalance, target_weights
from engine.risk.checks import Intent, check_lists, check_trading_state, pre_trade
from engine.service.api import StrategyView
from engine.storage.models import (
    Bot,
    BotState,
    Order,
    OrderState,
    Proposal,
    ProposalState,
    Trade,
)

if TYPE_CHECKING:
    from engine.service.engine import Engine

log = logging.getLogger("sentitrade.engine")

REBALANCE = "rebalance"
BASKET = "BASKET"
INTENT = "rebal"
_ACTIVE = [ProposalState.PENDING, ProposalState.APPROVED]


@dataclass(frozen=True, slots=True)
class RebalanceParams:
    """A rebalance bot's settings, checked once (a bad one stops the start, one line)."""

    targets: dict[str, float]
    every_ms: int
    threshold: float | None
    min_trade: float

    @classmethod
    def of(cls, bot_name: str, symbols: list[str], timeframe: str,
           params: dict[str, Any]) -> RebalanceParams:
        unknown = sorted(set(params) - {"weights", "every", "threshold", "min_trade"})
        if unknown:
            raise SentitradeError(f"bot {bot_name}: rebalance has no parameter "
                                  f"{', '.join(unknown)} (it has weights, every, threshold, "
                                  "min_trade)")
        try:
            targets = target_weights(symbols, params.get("weights") or None)
            every = params.get("every", "1d") or None
            period = timeframe_ms(every) if every else 0
            threshold = params.get("threshold")
            threshold = None if threshold is None else float(threshold)
            min_trade = float(params.get("min_trade", 10.0))
        except (ValueError, TypeError, KeyError) as e:
            raise SentitradeError(f"bot {bot_name}: rebalance params: {e}") from e
        if period and period % timeframe_ms(timeframe):
            raise SentitradeError(f"bot {bot_name}: every {every} is not a multiple of the "
                                  f"timeframe {timeframe}")
        if not period and threshold is None:
            raise SentitradeError(f"bot {bot_name}: rebalance needs every, threshold or both")
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise SentitradeError(f"bot {bot_name}: threshold {threshold}: a weight gap in "
                                  "(0, 1), e.g. 0.05")
        if min_trade < 0:
            raise SentitradeError(f"bot {bot_name}: min_trade cannot be negative")
        return cls(targets, period, threshold, min_trade)


def is_rebalance(bot: Bot | Any) -> bool:
    return bool(getattr(bot, "strategy", None) == REBALANCE)


class Rebalancer:
    """The rebalance bots of one engine; owned by the `Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.params: dict[str, RebalanceParams] = {}
        self._seen: dict[str, dict[int, dict[str, float]]] = {}  # bot -> close -> prices
        for spec in engine.settings.bots:
            if spec.strategy == REBALANCE:
                self.params[spec.name] = RebalanceParams.of(
                    spec.name, list(spec.symbols), spec.timeframe, dict(spec.params))

    def _params(self, bot: Bot) -> RebalanceParams:
        p = self.params.get(bot.name)
        if p is None:
            p = RebalanceParams.of(bot.name, list(bot.symbols), bot.timeframe, bot.params)
            self.params[bot.name] = p
        return p

    def view(self, bot: Bot) -> StrategyView:
        """`/strategy` for a rebalance bot: its basket settings (all from the settings)."""
        rp = self._params(bot)
        values: dict[str, Any] = {
            "weights": {s: round(w, 6) for s, w in rp.targets.items()},
            "every": bot.params.get("every", "1d") or "none",
            "threshold": rp.threshold, "min_trade": rp.min_trade}
        given = set(bot.params)
        return StrategyView(bot.name, REBALANCE, "Rebalancer", "built-in", bot.timeframe,
                            values, {k: ("settings" if k in given else "default")
                                     for k in values}, "none (not hyperopted)", False)

    async def on_bar(self, bar: Bar) -> list[Proposal]:
        """A candle closed: decide for each rebalance bot whose basket has all closed it."""
        out: list[Proposal] = []
        for bot in self.eng.bots.all():
            if not is_rebalance(bot) or bot.timeframe != bar.timeframe \
                    or bar.symbol not in bot.symbols:
                continue
            seen = self._seen.setdefault(bot.name, {})
            close = bar.close_ms
            prices = seen.setdefault(close, {})
            prices[bar.symbol] = bar.next_open if bar.next_open is not None else bar.close
            for k in [k for k in seen if k < close]:
                del seen[k]  # a pair that missed a candle: that candle is not decided
            if len(prices) < len(bot.symbols) or bot.state != BotState.RUNNING:
                continue
            del seen[close]
            p = await self._decide(bot, close, prices)
            if p is not None:
                out.append(p)
        return out

    async def resume(self, proposal_id: int) -> list[Order]:
        """Send the legs of an approved basket that were never sent (the process died
        between the approval's commit and the sends), then settle it."""
        with self.eng.sessions() as s:
            ids = [o.id for o in s.exec(
                select(Order).join(Proposal, col(Proposal.id) == Order.proposal_id)
                .where(Proposal.parent_id == proposal_id,
                       Order.state == OrderState.PENDING_CREATE)
                .order_by(col(Order.id))).all() if o.id is not None]
        sent = await send_legs(self.eng, ids)
        settle_basket(self.eng, proposal_id)
        return sent

    def _holdings(self, bot: Bot) -> tuple[dict[str, float], float]:
        v = self.eng.view()
        held = {sym: float(t.amount) for (bid, sym), t in v.holdings.items()
                if bid == bot.id and sym in bot.symbols}
        quote = self.eng.settings.exchange.quote
        cash = sum((float(amt) for asset, amt in v.balances if asset == quote), 0.0)
        return held, cash

    async def _decide(self, bot: Bot, close_ms: int, prices: dict[str, float]
                      ) -> Proposal | None:
        eng = self.eng
        rp = self._params(bot)
        with eng.sessions() as s:
            active = s.exec(select(Proposal).where(
                Proposal.bot_id == bot.id, Proposal.intent == INTENT,
                col(Proposal.state).in_(_ACTIVE))).first()
            started = s.exec(select(Proposal.id).where(
                Proposal.bot_id == bot.id, Proposal.intent == INTENT)).first()
        if active is not None:  # one rebalance at a time: the open one is decided first
            if active.state == ProposalState.APPROVED and active.id is not None:
                await self.resume(active.id)  # approved, legs unsent: a crash between
            return None
        held, cash = self._holdings(bot)
        if started is not None:
            at_period = bool(rp.every_ms) and close_ms % rp.every_ms == 0
            if rp.every_ms and not at_period:
                return None
            if rp.threshold is not None and drift(held, cash, prices, rp.targets) < rp.threshold:
                return None
        fee = float(eng.settings.exchange.taker_fee)
        legs = plan_rebalance(held, cash, prices, rp.targets, fee=fee, min_trade=rp.min_trade)
        if not legs:
            return None
        now = eng.clock.now()
        notional = Decimal(repr(sum(leg.notional for leg in legs))).quantize(Decimal("0.01"))
        with eng.sessions.begin() as s:
            p = Proposal(bot_id=bot.id, symbol=BASKET, side="basket", intent=INTENT,
                         amount=Decimal(0), ref_price=Decimal(0), notional=notional,
                         reasons=[f"rebalance to {_weights_text(rp.targets)}",
                                  f"drift {drift(held, cash, prices, rp.targets):.2%}"],
                         legs=[{"symbol": leg.symbol, "side": leg.side,
                                "amount": repr(leg.amount), "price": repr(leg.price)}
                               for leg in legs],
                         state=ProposalState.PENDING, created_at=now,
                         expires_at=now + timedelta(
                             seconds=eng.settings.approvals.expiry_seconds))
            s.add(p)
            s.flush()
            ask = needs_approval(bot.approval_mode, notional,
                                 eng.settings.approvals.auto_max_notional)
            record(s, ProposalCreated(ts_event=now, proposal_id=p.id or 0, bot=bot.name,
                                      symbol=BASKET, side="basket", intent=INTENT,
                                      amount=Decimal(0), ref_price=Decimal(0),
                                      notional=notional, stop_price=None,
                                      reasons=[*p.reasons, *legs_text(p.legs or [])],
                                      expires_at=p.expires_at, needs_approval=ask))
        eng.stats.proposals += 1
        assert p.id is not None
        if not ask:
            try:
                await eng.approve(p.id, "auto")
            except ApprovalError as e:
                log.info("auto approval of rebalance #%s refused: %s", p.id, e)
        return p


def legs_text(legs: list[dict[str, Any]]) -> list[str]:
    """One line per leg, as the chat shows them (sells first, as they are placed)."""
    ordered = sorted(legs, key=lambda leg: leg["side"] != "sell")
    return [f"leg {i}: {leg['side']} {float(leg['amount']):.8g} {leg['symbol']} @ "
            f"{float(leg['price']):.10g} (~{float(leg['amount']) * float(leg['price']):,.2f})"
            for i, leg in enumerate(ordered, 1)]


def _weights_text(targets: dict[str, float]) -> str:
    return ", ".join(f"{s} {w:.0%}" for s, w in targets.items())


def revalidate_basket(eng: Engine, s: Session, p: Proposal) -> str | None:
    """Refuse the whole basket (its legs were sized together) when a circuit breaker
    or the exchange pause says no, a buy's pair is black/not whitelisted, or a leg's
    price moved too far since the proposal. The per-trade size limits are not applied:
    the targets are the bot's sizing."""
    limit = eng.settings.approvals.max_price_drift_pct
    for leg in p.legs or []:
        q = eng.quotes.get(leg["symbol"])
        ref = float(leg["price"])
        intent = Intent(leg["symbol"], leg["side"], "enter" if leg["side"] == "buy" else "exit",
                        Decimal(str(leg["amount"])), Decimal(str(leg["price"])))
        why = pre_trade(intent, eng.risk_context(s, leg["symbol"]), eng.settings.risk,
                        checks=(check_trading_state, check_lists))
        if why is not None:
            return f"{leg['symbol']}: {why}"
        if q is not None and ref > 0:
            moved = abs(float(q.last) / ref - 1) * 100
            if moved > limit:
                return (f"{leg['symbol']} moved {moved:.2f}% since the proposal "
                        f"({ref:.10g} -> {q.last}) > max {limit}%")
    return None


def basket_orders(eng: Engine, s: Session, p: Proposal, by: str, now: datetime) -> list[int]:
    """In the approval's transaction: one approved child proposal and one market order
    row per leg, sells first (their cash pays the buys); a buy spends its planned quote
    value at the price now (it moved while the proposal waited); the order ids to submit."""
    ids: list[int] = []
    legs = sorted(p.legs or [], key=lambda leg: leg["side"] != "sell")
    for i, leg in enumerate(legs, 1):
        sym, side = str(leg["symbol"]), str(leg["side"])
        held = s.exec(select(Trade).where(Trade.bot_id == p.bot_id, Trade.symbol == sym,
                                          col(Trade.is_open).is_(True))).first()
        amount = Decimal(str(leg["amount"]))
        price = Decimal(str(leg["price"]))
        q = eng.quotes.get(sym)
        if side == "buy" and q is not None and q.last > 0 and q.last != price:
            amount = amount * price / q.last  # the planned quote spent, at today's price
        m = eng.market(sym)
        if m is not None:
            amount = m.round_amount(amount)
        if side == "sell" and held is not None:
            amount = min(amount, held.amount)
        child = Proposal(bot_id=p.bot_id, parent_id=p.id,
                         trade_id=held.id if held is not None else None, symbol=sym,
                         side=side, intent="exit" if side == "sell" else "enter",
                         amount=amount, ref_price=price,
                         notional=(amount * price).quantize(Decimal("0.01")),
                         reasons=[f"rebalance #{p.id} leg {i}/{len(legs)}"],
                         state=ProposalState.APPROVED, created_at=now,
                         expires_at=p.expires_at, decided_by=by, decided_at=now)
        s.add(child)
        s.flush()
        oid = eng.execution.create_order_row(s, child, amount=amount).id
        assert oid is not None
        ids.append(oid)
    return ids


async def send_legs(eng: Engine, order_ids: list[int]) -> list[Order]:
    """Send the leg orders in turn (sells first). A buy is cut to the cash there is once
    the sells are booked: the plan spends all of it in floats, the sells' amounts were
    rounded down to the market's step, so the last buy can miss by a few cents."""
    out: list[Order] = []
    for oid in order_ids:
        with eng.sessions() as s:
            o = s.get(Order, oid)
        if o is not None and o.side == "buy" and o.state == OrderState.PENDING_CREATE:
            await _fit_to_cash(eng, o)
        out.append(await eng.execution.submit(oid))
    return out


async def _fit_to_cash(eng: Engine, o: Order) -> None:
    quote = eng.settings.exchange.quote
    try:
        free = (await eng.broker.fetch_balances()).get(quote, (Decimal(0), Decimal(0)))[0]
    except ExchangeError:
        return  # the exchange answers for itself when the order is sent
    q = eng.quotes.get(o.symbol)
    if q is None or q.last <= 0:
        return
    fee = eng.settings.exchange.taker_fee
    afford = max(Decimal(0), free - Decimal("0.01")) / (q.last * (1 + fee))
    if o.amount <= afford:
        return
    m = eng.market(o.symbol)
    amount = m.round_amount(afford) if m is not None else afford.quantize(
        Decimal("0.00000001"), rounding=ROUND_DOWN)
    with eng.sessions.begin() as s:
        row = s.get(Order, o.id)
        if row is not None and row.state == OrderState.PENDING_CREATE:
            row.amount = amount


def settle_basket(eng: Engine, proposal_id: int) -> None:
    """After the legs were sent: the basket is executed when any leg filled, failed
    otherwise (each leg's own proposal says how it went)."""
    with eng.sessions.begin() as s:
        p = s.get(Proposal, proposal_id)
        if p is None or p.state != ProposalState.APPROVED:
            return
        kids = s.exec(select(Proposal).where(Proposal.parent_id == proposal_id)).all()
        ok = any(k.state == ProposalState.EXECUTED for k in kids)
        transition(s, p, ProposalTrigger.EXECUTE if ok else ProposalTrigger.FAIL, by=None,
                   at=eng.clock.now(), note=None if ok else "no leg could be placed")
