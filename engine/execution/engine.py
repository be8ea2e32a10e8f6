"""Execution: places orders through a broker and books what comes back.

The order row (with its client order id) is committed BEFORE anything is sent, so after
a crash we always know what we may have sent and can ask the exchange about it by that
id instead of guessing. `book` is the only writer of fills: one transaction updates the
order (through the transition table), inserts fills (unique per order and trade key,
so a fill reported twice is booked once), moves the position and the paper wallet, and
writes the alerts.

Retries: a timeout or 5xx leaves the order PENDING_CREATE (it may have arrived);
reconciliation then fetches it by client id and books it, or resubmits with the SAME
client id (the exchange refuses a duplicate, so this is safe). A rate limit means it
did not arrive. Only an explicit refusal marks the order FAILED.

Never before it existed: an order is sent only once the engine clock has reached its
`created_at`. A replay restarted after a crash resumes its clock at the candle before
the one the kill interrupted, earlier than an order committed just before the kill;
sending it then would fill it at an older candle's price, before the decision that
made it (`fills.ts < orders.created_at`). Such an order waits (`deferred`) until the
replay reaches its candle again, where the candle's own path sends it at the same
price (`engine.service.replay`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from sqlmodel import Session, col, select

from engine.clock import Clock
from engine.errors import (
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    OrderRejected,
    RateLimited,
)
from engine.events import OrderCanceled, OrderFailed, OrderFilled, record
from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.broker import Broker, BrokerOrder, OrderRequest
from engine.execution.orders import ACTIVE, ORDER_FSM, OrderTrigger
from engine.execution.ordertypes import (
    CONDITIONAL,
    Capabilities,
    capabilities,
    validate,
)
from engine.execution.reconcile import Reconciler
from engine.execution.rules import RuleViolation, apply_rules, reduce_only_amount
from engine.storage.db import SessionFactory
from engine.storage.models import Fill, Order, OrderState, Proposal, ProposalState, Trade

log = logging.getLogger("sentitrade.execution")
DUST = Decimal("0.00000001")


def client_order_id(proposal_id: int, attempt: int = 0) -> str:
    """Deterministic per proposal: a retried approval can never mint a second id."""
    return f"st-p{proposal_id}" + (f"-{attempt}" if attempt else "")


class ExecutionEngine(Reconciler):
    def __init__(self, sessions: SessionFactory, broker: Broker, clock: Clock, *,
                 on_api_error: Callable[[Exception], None] | None = None) -> None:
        self.sessions = sessions
        self.broker = broker
        self.clock = clock
        self.on_api_error = on_api_error or (lambda e: None)
        self.version = 0  # bumped on every booking: lets callers cache DB reads
        ex = getattr(broker, "exchange", None) if broker.name != "paper" else None
        self.caps: Capabilities = capabilities(
            ex, overrides=getattr(broker, "type_overrides", None))

    # ------------------------------------------------------------ create/send
    def create_order_row(self, s: Session, p: Proposal, *, type_: str = "market",
                         price: Decimal | None = None, amount: Decimal | None = None,
                         time_in_force: str = "GTC", trigger_price: Decimal | None = None,
                         trailing_pct: Decimal | None = None, post_only: bool = False,
                         reduce_only: bool = False) -> Order:
        """The order row for an approved proposal, in the caller's transaction
        (`amount` = the proposal's, rounded to the exchange's step by the caller).
        Order types and time in force: `engine.execution.ordertypes` (a bad combination
        raises `ValueError` with one line)."""
        assert p.id is not None
        existing = s.exec(select(Order).where(Order.proposal_id == p.id)).first()
        if existing is not None:
            return existing
        return self.add_order(s, client_order_id(p.id), symbol=p.symbol, side=p.side,
                              amount=amount or p.amount, type_=type_, price=price,
                              bot_id=p.bot_id, proposal_id=p.id, trade_id=p.trade_id,
                              time_in_force=time_in_force, trigger_price=trigger_price,
                              trailing_pct=trailing_pct, post_only=post_only,
                              reduce_only=reduce_only)

    def add_order(self, s: Session, client_id: str, *, symbol: str, side: str,
                  amount: Decimal, type_: str = "market", price: Decimal | None = None,
                  bot_id: int | None = None, proposal_id: int | None = None,
                  trade_id: int | None = None, time_in_force: str = "GTC",
                  trigger_price: Decimal | None = None, trailing_pct: Decimal | None = None,
                  post_only: bool = False, reduce_only: bool = False) -> Order:
        """A PENDING_CREATE order row (also for orders with no proposal, such as a
        stop-loss on the exchange). A conditional type the exchange cannot hold is
        marked `emulated`: the engine keeps it and sends a market/limit order when it
        fires (`engine.execution.emulation`)."""
        why = validate(type_, price=price, trigger_price=trigger_price,
                       trailing_pct=trailing_pct, time_in_force=time_in_force,
                       post_only=post_only)
        if why is not None:
            raise ValueError(why)
        now = self.clock.now()
        o = Order(client_order_id=client_id, exchange=self.broker.name, bot_id=bot_id,
                  proposal_id=proposal_id, trade_id=trade_id, symbol=symbol, side=side,
                  type=type_, amount=amount, price=price, state=OrderState.PENDING_CREATE,
                  created_at=now, updated_at=now, time_in_force=time_in_force,
                  trigger_price=trigger_price, trailing_pct=trailing_pct, post_only=post_only,
                  reduce_only=reduce_only,
                  emulated=type_ in CONDITIONAL and not self.caps.native(type_))
        s.add(o)
        s.flush()
        return o

    async def submit(self, order_id: int) -> Order:
        """Send a PENDING_CREATE order and book the answer; returns the order as booked."""
        with self.sessions() as s:
            o = s.get(Order, order_id)
            assert o is not None, f"order {order_id} does not exist"
        if o.state != OrderState.PENDING_CREATE or self.too_early(o):
            return o
        refusal = await self._prepare(order_id)
        if refusal is not None:
            return self.fail(order_id, refusal)
        if o.side == "sell" and o.trade_id is not None and o.type not in CONDITIONAL:
            await self.cancel_protective(o.trade_id, "exit order placed")
        with self.sessions() as s:
            o = s.get(Order, order_id)
            assert o is not None
        if o.emulated:  # held here until it fires: nothing goes to the exchange yet
            return self.book(order_id, BrokerOrder(o.client_order_id, None, "open",
                                                   Decimal(0), None))
        return await self.send(order_id, OrderRequest.of(o))

    async def send(self, order_id: int, req: OrderRequest) -> Order:
        """Send `req` for the order and book the answer (an emulated order that fired
        sends its market/limit request through here, with the order's client id)."""
        with self.sessions() as s:
            o = s.get(Order, order_id)
            assert o is not None
        try:
            res = await self.broker.create_order(req)
        except (InsufficientFunds, OrderRejected) as e:
            return self.fail(order_id, str(e))
        except (RateLimited, ExchangeUnavailable) as e:
            self.on_api_error(e)
            log.warning("order %s not confirmed (%s): reconciliation will settle it",
                        o.client_order_id, e)
            with self.sessions.begin() as s:
                row = s.get(Order, order_id)
                assert row is not None
                row.error = f"{type(e).__name__}: {e}"[:500]
                row.updated_at = self.clock.now()
                return row
        except ExchangeError as e:
            self.on_api_error(e)
            return self.fail(order_id, str(e))
        return self.book(order_id, res)

    async def _prepare(self, order_id: int) -> str | None:
        """Apply the exchange's rules (step, tick, minimums, reduce-only) to the row
        before it is sent; the reason it cannot be sent, or None."""
        try:
            markets = await self.broker.load_markets()
        except ExchangeError:
            markets = {}  # the broker loads them itself on create; its refusal then counts
        with self.sessions.begin() as s:
            o = s.get(Order, order_id)
            assert o is not None
            amount = o.amount
            try:
                if o.reduce_only:
                    t = s.get(Trade, o.trade_id) if o.trade_id else None
                    amount = reduce_only_amount(o.side, amount,
                                                t.amount if t and t.is_open else None)
                m = markets.get(o.symbol)
                if m is not None:
                    p = s.get(Proposal, o.proposal_id) if o.proposal_id else None
                    c = apply_rules(m, side=o.side, amount=amount, price=o.price,
                                    trigger_price=o.trigger_price,
                                    ref_price=p.ref_price if p is not None else None)
                    amount, o.price, o.trigger_price = c.amount, c.price, c.trigger_price
            except RuleViolation as e:
                return str(e)
            o.amount = amount
            return None

    async def cancel_protective(self, trade_id: int, reason: str) -> int:
        """Cancel the trade's resting stop/take-profit orders (an exit is about to sell
        the coins they hold); returns how many were canceled."""
        with self.sessions() as s:
            ids = [o.id for o in s.exec(select(Order).where(
                Order.trade_id == trade_id, Order.side == "sell",
                col(Order.type).in_(list(CONDITIONAL)),
                col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED]))).all()]
        for oid in ids:
            assert oid is not None
            await self.cancel(oid, reason)
        return len(ids)

    def too_early(self, o: Order) -> bool:
        """True while the clock is before the order's creation (a replay resumed at an
        earlier candle): sending now would price it from before it existed."""
        return self.clock.now() < o.created_at

    def fail(self, order_id: int, reason: str) -> Order:
        self.version += 1
        with self.sessions.begin() as s:
            o = s.get(Order, order_id)
            assert o is not None
            if o.state not in ACTIVE:
                return o
            o.state = ORDER_FSM.next(o.state, OrderTrigger.FAIL)
            o.error = reason[:500]
            o.updated_at = now = self.clock.now()
            self._settle_proposal(s, o)
            record(s, OrderFailed(ts_event=now, order_id=o.id or 0,
                                  client_order_id=o.client_order_id, symbol=o.symbol,
                                  reason=reason))
            return o

    # ------------------------------------------------------------ booking
    def book(self, order_id: int, res: BrokerOrder) -> Order:
        """Apply the exchange's view of an order: one transaction, idempotent."""
        self.version += 1
        with self.sessions.begin() as s:
            o = s.exec(select(Order).where(Order.id == order_id).with_for_update()).one()
            if o.state in (OrderState.FILLED, OrderState.CANCELED, OrderState.FAILED):
                return o
            known = set(s.exec(select(Fill.trade_key).where(Fill.order_id == o.id)).all())
            if any(f.since is not None and f.since != o.filled and f.trade_key not in known
                   for f in res.fills):
                # read before another path (REST poll vs user stream) booked a fill: this
                # report's delta overlaps it and its status may be older; the next report
                # is computed from what is booked now
                return o
            now = self.clock.now()
            was_pending = o.state == OrderState.PENDING_CREATE
            if res.exchange_order_id and not o.exchange_order_id:
                o.exchange_order_id = res.exchange_order_id
            if was_pending and res.status != "rejected" and o.type != "market":
                self.broker.on_open(s, o)
            if res.trail_ref is not None:
                o.trail_ref = res.trail_ref
            if res.triggered and o.triggered_at is None:
                o.triggered_at = now
            last = res.fills[-1] if res.fills else None
            for f in res.fills:
                if f.trade_key in known:
                    continue
                known.add(f.trade_key)
                s.add(Fill(order_id=o.id or 0, trade_key=f.trade_key, amount=f.amount,
                           price=f.price, fee=f.fee, fee_currency=f.fee_currency, ts=f.ts))
                prev = o.filled
                o.filled = prev + f.amount
                o.fee += f.fee
                o.average_price = ((o.average_price or Decimal(0)) * prev
                                   + f.price * f.amount) / o.filled
                self.broker.on_fill(s, o, f)
                s.flush()
                pnl = self._apply_to_trade(s, o, f.amount, f.price, f.fee)
                whole = o.filled >= o.amount - DUST or (res.status == "closed" and f is last)
                trig = OrderTrigger.FILL if whole else OrderTrigger.PARTIAL
                o.state = ORDER_FSM.next(o.state, trig)
                record(s, OrderFilled(ts_event=f.ts, order_id=o.id or 0,
                                      client_order_id=o.client_order_id, trade_key=f.trade_key,
                                      symbol=o.symbol, side=o.side, amount=f.amount,
                                      price=f.price, fee=f.fee, order_state=o.state,
                                      realized_pnl=pnl))
            if res.status == "open" and o.state == OrderState.PENDING_CREATE:
                o.state = ORDER_FSM.next(o.state, OrderTrigger.ACCEPT)
            elif res.status == "canceled" and o.state != OrderState.FILLED:
                o.state = ORDER_FSM.next(o.state, OrderTrigger.CANCELED)
                self.broker.on_release(s, o)
                reason = res.error or ("book exhausted: rest canceled" if o.filled else "canceled")
                record(s, OrderCanceled(ts_event=now, order_id=o.id or 0,
                                        client_order_id=o.client_order_id, symbol=o.symbol,
                                        reason=reason))
            elif res.status == "rejected" and o.state in ACTIVE:
                o.state = ORDER_FSM.next(o.state, OrderTrigger.FAIL)
                o.error = (res.error or "rejected")[:500]
                record(s, OrderFailed(ts_event=now, order_id=o.id or 0,
                                      client_order_id=o.client_order_id, symbol=o.symbol,
                                      reason=o.error))
            o.updated_at = now
            self._settle_proposal(s, o)
            return o

    def _settle_proposal(self, s: Session, o: Order) -> None:
        if o.proposal_id is None or o.state in ACTIVE:
            return
        p = s.get(Proposal, o.proposal_id)
        if p is None or p.state != ProposalState.APPROVED:
            return
        trig = ProposalTrigger.EXECUTE if o.filled > 0 else ProposalTrigger.FAIL
        transition(s, p, trig, by=None, at=self.clock.now(), note=o.error)

    def _apply_to_trade(self, s: Session, o: Order, amount: Decimal, price: Decimal,
                        fee: Decimal) -> Decimal | None:
        """Open/grow a position on buys, shrink/close it on sells; returns realized PnL
        when this fill closed the trade."""
        now = self.clock.now()
        own = getattr(self.broker, "apply_to_trade", None)  # futures: shorts, margin
        if own is not None:
            return own(s, o, amount, price, fee, now)
        if o.side == "buy":
            t = s.get(Trade, o.trade_id) if o.trade_id else None
            if t is None:
                p = s.get(Proposal, o.proposal_id) if o.proposal_id else None
                t = Trade(bot_id=o.bot_id, symbol=o.symbol, side="long", is_open=True,
                          amount=Decimal(0), stake=Decimal(0), open_price=price, open_at=now,
                          stop_price=p.stop_price if p else None, fees=Decimal(0))
                s.add(t)
                s.flush()
                o.trade_id = t.id
            new_amount = t.amount + amount
            t.open_price = (t.open_price * t.amount + price * amount) / new_amount
            t.amount = new_amount
            t.stake += amount * price + fee
            t.fees += fee
            return None
        t = s.get(Trade, o.trade_id) if o.trade_id else None
        if t is None:
            return None
        t.amount -= amount
        t.fees += fee
        if t.amount > DUST:
            return None
        sells = s.exec(select(Fill).join(Order, col(Order.id) == Fill.order_id)
                       .where(Order.trade_id == t.id, Order.side == "sell")).all()
        proceeds = sum((f.amount * f.price - f.fee for f in sells), Decimal(0))
        t.is_open = False
        t.amount = sum((f.amount for f in sells), Decimal(0))  # the closed size, kept
        t.close_price = price
        t.close_at = now
        t.realized_pnl = (proceeds - t.stake).quantize(Decimal("0.00000001"))
        t.pnl_ratio = float(t.realized_pnl / t.stake) if t.stake else None
        p = s.get(Proposal, o.proposal_id) if o.proposal_id else None
        t.exit_reason = (p.reasons[0][:32] if p and p.reasons else
                         "stoploss_on_exchange" if o.type in CONDITIONAL else "exit")
        return t.realized_pnl

    # ------------------------------------------------------------ cancel / poll
    async def cancel(self, order_id: int, reason: str) -> Order:
        with self.sessions.begin() as s:
            o = s.get(Order, order_id)
            assert o is not None
            if o.state not in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                return o
            o.state = ORDER_FSM.next(o.state, OrderTrigger.CANCEL)
            o.updated_at = self.clock.now()
        self.version += 1
        if o.emulated and o.triggered_at is None:  # only we hold it: nothing to ask
            return self.book(order_id, BrokerOrder(o.client_order_id, None, "canceled",
                                                   o.filled, o.average_price, error=reason))
        try:
            res = await self.broker.cancel_order(o)
        except ExchangeError as e:
            self.on_api_error(e)
            log.warning("cancel of %s failed (%s): reconciliation retries", o.client_order_id, e)
            return o
        res = BrokerOrder(res.client_order_id, res.exchange_order_id, res.status, res.filled,
                          res.average, res.fills, res.error or reason)
        return self.book(order_id, res)

    async def poll_open(self) -> int:
        """Ask the broker about every working order and book news; returns orders changed."""
        with self.sessions() as s:
            rows = s.exec(select(Order).where(col(Order.state).in_(
                [OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL]))).all()
        changed = 0
        for o in rows:
            if o.emulated and o.triggered_at is None:
                continue  # the emulator watches it (engine.execution.emulation)
            try:
                res = await self.broker.fetch_order(o)
            except ExchangeError as e:
                self.on_api_error(e)
                continue
            if res is None:
                continue
            if res.fills or res.status != "open":
                self.book(o.id or 0, res)
                changed += 1
            elif ((res.trail_ref is not None and res.trail_ref != o.trail_ref)
                  or (res.triggered and o.triggered_at is None)):
                self.book(o.id or 0, res)  # a trailing stop's best price, a stop that fired
        return changed
