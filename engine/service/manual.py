"""A trader's own orders from the chat: forced entries (/forcelong, /forceshort) and
canceling a working order (/cancel). A mixin of `engine.service.engine.Engine`.

Unlike `force_exit` (which reduces risk and bypasses policy), a forced ENTRY adds
risk: it is sized like a strategy's entry and goes through every pre-trade check and
the pair locks; a refusal raises `RiskRejected` with the reason. It then takes the
proposal -> order path of an approval (proposal approved by the trader, order row
committed, then sent), so it is booked, alerted and reconciled like any other order.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from engine.errors import RiskRejected, SentitradeError
from engine.events import ProposalApproved, record
from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.orders import ACTIVE
from engine.risk.checks import Intent, closed_pnl_ratios, pre_trade, size_position
from engine.risk.protections import ProtectionDesk
from engine.service.api import Decision
from engine.state import EngineState
from engine.storage.models import Bot, BotState, Order, OrderState, Proposal, ProposalState

log = logging.getLogger("sentitrade.engine")
FUTURES_MODES = ("futures", "margin")


class ManualDesk(EngineState):
    """Forced entries and order cancels on a trader's request."""

    protections: ProtectionDesk

    def is_futures(self, pair: str) -> bool:
        """A derivatives market (ccxt's `BTC/USDT:USDT`, or the exchange's trading mode
        set to futures/margin): the only place a short can be opened."""
        mode = str(getattr(self.settings.exchange, "trading_mode", "spot") or "spot")
        return ":" in pair or mode.lower() in FUTURES_MODES

    async def force_entry(self, pair: str, side: str, rate: Decimal | None,
                          by: str) -> Decision:
        """Open a position now on `pair` (`side` long or short), at market or, with
        `rate`, as a limit order at that price; sized like a strategy's entry and
        refused (RiskRejected, with the reason) when a pre-trade check or a pair lock
        says no. A short needs a futures market: refused on spot."""
        if side not in ("long", "short"):
            raise SentitradeError("side is long or short")
        if side == "short" and not self.is_futures(pair):
            raise SentitradeError(f"{pair} is a spot market: shorts need a futures market "
                                  "(set exchange.trading_mode = futures and a :USDT pair)")
        m = self.market(pair)
        if m is None:
            raise SentitradeError(f"unknown market {pair}")
        q = self.quotes.get(pair)
        if rate is not None and rate <= 0:
            raise SentitradeError("the rate must be a positive price")
        price = rate if rate is not None else (q.last if q is not None else None)
        if price is None:
            raise SentitradeError(f"no price for {pair} yet: give a rate or try after the "
                                  "next candle")
        bot = self._bot_for(pair)
        now = self.clock.now()
        order_side = "buy" if side == "long" else "sell"
        async with self._lock:
            with self.sessions.begin() as s:
                ctx = self.risk_context(s, pair)
                stake = size_position(ctx.equity, price, self.settings.risk,
                                      closed_pnl_ratios=closed_pnl_ratios(s, bot.id if bot
                                                                          else None))
                amount = m.round_amount(stake / price) if price > 0 else Decimal(0)
                reason = pre_trade(Intent(pair, order_side, "enter", amount, price), ctx,
                                   self.settings.risk)
                if reason is None and bot is not None:
                    reason = self.protections.blocked(s, bot.id, pair, bot.timeframe, now)
                if reason is None and amount <= 0:
                    reason = "stake too small for one unit"
                if reason is not None:
                    raise RiskRejected(f"force {side} {pair} refused by risk: {reason}")
                p = Proposal(bot_id=bot.id if bot else None, symbol=pair, side=order_side,
                             intent="enter", amount=amount, ref_price=price,
                             notional=(amount * price).quantize(Decimal("0.01")),
                             reasons=[f"force {side} by {by}"], state=ProposalState.PENDING,
                             created_at=now, expires_at=now + timedelta(minutes=5))
                s.add(p)
                s.flush()
                transition(s, p, ProposalTrigger.APPROVE, by=by, at=now, note=f"force {side}")
                record(s, ProposalApproved(ts_event=now, proposal_id=p.id or 0, by=by,
                                           note=f"force {side}"))
                typ = "limit" if rate is not None else "market"
                oid = self.execution.create_order_row(s, p, type_=typ, price=rate,
                                                      amount=amount).id
                pid = p.id or 0
            assert oid is not None
            order = await self.execution.submit(oid)
        p2 = self.get_proposal(pid)
        assert p2 is not None
        return Decision(p2, True, order, f"force {side} {pair}: order {order.client_order_id} "
                                         f"{order.state}")

    def _bot_for(self, pair: str) -> Bot | None:
        """The bot that trades `pair` (a running one first): a forced entry is its trade,
        managed by its exit rules, as in Freqtrade."""
        bots = [b for b in self.bots.all() if pair in b.symbols]
        return next((b for b in bots if b.state == BotState.RUNNING), bots[0] if bots else None)

    async def cancel_order(self, order_id: int, by: str) -> Order:
        """Cancel a working order (a limit order resting at the exchange)."""
        with self.sessions() as s:
            o = s.exec(select(Order).where(Order.id == order_id)).first()
        if o is None:
            raise SentitradeError(f"no order #{order_id}: /order TRADE lists a trade's orders")
        if o.state == OrderState.PENDING_CREATE:
            raise SentitradeError(f"order #{order_id} is not confirmed by the exchange yet: "
                                  "try again in a minute")
        if o.state not in ACTIVE:
            raise SentitradeError(f"order #{order_id} is already {o.state}: nothing to cancel")
        if o.state == OrderState.PENDING_CANCEL:
            raise SentitradeError(f"order #{order_id} is already being canceled")
        log.info("order %s cancel requested by %s", o.client_order_id, by)
        return await self.execution.cancel(order_id, f"canceled by {by}")
