"""Proposals and their decisions: approve (re-validated: expiry, price drift, risk),
reject, expire, and the forced exit. A mixin of `engine.service.engine.Engine`."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from engine.errors import ApprovalError, SentitradeError
from engine.events import (
    ProposalApproved,
    ProposalExpired,
    ProposalRefused,
    ProposalRejected,
    record,
)
from engine.execution.approvals import (
    ProposalTrigger,
    check_decidable,
    due_for_expiry,
    transition,
)
from engine.risk.checks import (
    Intent,
    pre_trade,
)
from engine.service.api import (
    Decision,
)
from engine.service.rebalancer import (
    basket_orders,
    revalidate_basket,
    send_legs,
    settle_basket,
)
from engine.state import EngineState
from engine.storage.models import (
    Order,
    OrderState,
    Proposal,
    ProposalState,
    Trade,
)

log = logging.getLogger("sentitrade.engine")


class ProposalDesk(EngineState):
    """Every decision goes through here, from the chat, the API or `auto`."""

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
            basket: list[int] | None = None  # a rebalance's leg orders
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
                        refusal = (revalidate_basket(self, s, p) if p.legs  # type: ignore[arg-type]
                                   else self._revalidate(s, p))
                        if refusal is not None:
                            transition(s, p, ProposalTrigger.REFUSE, by=by, at=now, note=refusal)
                            record(s, ProposalRefused(ts_event=now, proposal_id=p.id or 0, by=by,
                                                      note=refusal))
                        elif transition(s, p, ProposalTrigger.APPROVE, by=by, at=now):
                            record(s, ProposalApproved(ts_event=now, proposal_id=p.id or 0,
                                                       by=by))
                            if p.legs:  # a rebalance: one order per leg, sells first
                                basket = basket_orders(self, s, p, by, now)  # type: ignore[arg-type]
                            else:
                                m = self.market(p.symbol)
                                amount = m.round_amount(p.amount) if m is not None else p.amount
                                limit = p.order_type == "limit" and p.limit_price is not None
                                order_id = self.execution.create_order_row(
                                    s, p, amount=amount, type_="limit" if limit else "market",
                                    price=p.limit_price if limit else None).id
            if refusal is not None:
                raise ApprovalError(refusal)
            if repeat:
                if o is not None and o.state == OrderState.PENDING_CREATE and o.id is not None:
                    o = await self.execution.submit(o.id)
                return Decision(p, False, o, f"proposal #{p.id} already {p.state}")
            if basket is not None:
                orders = await send_legs(self, basket)  # type: ignore[arg-type]
                settle_basket(self, proposal_id)  # type: ignore[arg-type]
                p2 = self.get_proposal(proposal_id)
                assert p2 is not None
                done = ", ".join(f"{o.side} {o.symbol} {o.state}" for o in orders)
                return Decision(p2, True, orders[0] if orders else None,
                                f"rebalance #{proposal_id} approved by {by}: {done}")
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

