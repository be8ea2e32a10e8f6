"""Futures positions from fills: one-way mode, isolated margin.

On a futures account (Binance's default one-way mode) a symbol has one position. A fill
on the position's side opens or grows it; a fill on the other side reduces or closes
it: a sell with no position opens a SHORT, a buy then closes it. The spot bookkeeping of
`engine.execution.engine.ExecutionEngine` (a buy opens a long, a sell closes it) cannot
tell those apart, so a futures broker offers ``apply_to_trade`` and the execution engine
calls it instead, inside the transaction that books the fill.

Money on the trade row (Freqtrade's futures fields):

- ``stake``: the isolated margin of the open size (notional / leverage at the entry),
- ``funding_fees``: funding received (+) or paid (-) since the open; it lives in the
  isolated margin (Binance takes funding from, and pays it into, the position's margin),
  so the liquidation price uses ``stake + funding_fees`` as the wallet balance,
- ``realized_pnl`` while open: the price PnL of partial closes so far; once closed: price
  PnL + funding - every fee,
- ``liquidation_price``: Binance's isolated formula (`engine.margin.liquidation`),
  recomputed after every fill and funding charge.

`FillEffect` tells a paper broker how its wallet moves; a live broker ignores it (the
exchange keeps the balances).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from engine.margin.liquidation import isolated_liquidation_price
from engine.margin.tiers import Tier
from engine.storage.models import Fill, Order, Proposal, Trade

DUST = Decimal("0.00000001")
CENT8 = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class FillEffect:
    """How a fill moves a futures wallet: `lock` goes from free into the isolated
    margin (plus `fee` paid from free); `release` leaves the margin and `returned`
    comes back to free (margin + PnL - fee, never below zero)."""

    trade: Trade
    lock: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    release: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)
    realized: Decimal | None = None  # set when this fill closed the position


def side_sign(trade: Trade) -> int:
    return 1 if trade.side == "long" else -1


def open_position(s: Session, symbol: str) -> Trade | None:
    """The symbol's open futures position (one-way mode: at most one)."""
    return s.exec(select(Trade).where(Trade.symbol == symbol, col(Trade.is_open).is_(True),
                                      Trade.trading_mode == "futures")).first()


def refresh_liquidation(t: Trade, tiers: Sequence[Tier]) -> None:
    """Recompute the liquidation price from the isolated wallet balance."""
    wb = t.stake + (t.funding_fees or Decimal(0))
    lp = isolated_liquidation_price(side_sign(t), t.amount, t.open_price, wb, tiers) \
        if t.amount > DUST else None
    t.liquidation_price = lp.quantize(CENT8) if lp is not None else None


def apply_fill(s: Session, o: Order, amount: Decimal, price: Decimal, fee: Decimal,
               now: datetime, *, leverage: Decimal, margin_mode: str,
               tiers: Sequence[Tier]) -> FillEffect:
    """Book one fill into the symbol's position (see the module doc)."""
    t = s.get(Trade, o.trade_id) if o.trade_id else open_position(s, o.symbol)
    if t is not None and not t.is_open:
        t = None
    buying = o.side == "buy"
    if t is None or (t.side == "long") == buying:
        margin = amount * price / leverage
        if t is None:
            p = s.get(Proposal, o.proposal_id) if o.proposal_id else None
            t = Trade(bot_id=o.bot_id, symbol=o.symbol, side="long" if buying else "short",
                      is_open=True, amount=amount, stake=margin, open_price=price, open_at=now,
                      stop_price=p.stop_price if p and buying else None, fees=fee,
                      trading_mode="futures", margin_mode=margin_mode, leverage=leverage,
                      funding_fees=Decimal(0))
            s.add(t)
            s.flush()
        else:
            total = t.amount + amount
            t.open_price = (t.open_price * t.amount + price * amount) / total
            t.amount = total
            t.stake += margin
            t.fees += fee
        o.trade_id = t.id
        refresh_liquidation(t, tiers)
        return FillEffect(t, lock=margin, fee=fee)
    # the opposite side: reduce or close
    o.trade_id = t.id
    amount = min(amount, t.amount)
    pnl = side_sign(t) * amount * (price - t.open_price)
    t.fees += fee
    if t.amount - amount > DUST:  # partial: margin leaves pro rata, funding stays
        part = t.stake * amount / t.amount
        t.stake -= part
        t.amount -= amount
        t.realized_pnl = (t.realized_pnl or Decimal(0)) + pnl
        refresh_liquidation(t, tiers)
        return FillEffect(t, release=part, returned=max(part + pnl - fee, Decimal(0)), fee=fee)
    funding = t.funding_fees or Decimal(0)
    wb = t.stake + funding
    close_side = "buy" if t.side == "short" else "sell"
    closes = s.exec(select(Fill).join(Order, col(Order.id) == Fill.order_id)
                    .where(Order.trade_id == t.id, Order.side == close_side)).all()
    closed = sum((f.amount for f in closes), Decimal(0)) or amount
    realized = ((t.realized_pnl or Decimal(0)) + pnl + funding - t.fees).quantize(CENT8)
    t.is_open = False
    t.amount = closed
    t.close_price = price
    t.close_at = now
    t.realized_pnl = realized
    initial = t.open_price * closed / (t.leverage or Decimal(1))
    t.pnl_ratio = float(realized / initial) if initial else None
    p = s.get(Proposal, o.proposal_id) if o.proposal_id else None
    t.exit_reason = (p.reasons[0][:32] if p and p.reasons else "exit")
    return FillEffect(t, release=wb, returned=max(wb + pnl - fee, Decimal(0)), fee=fee,
                      realized=realized)
