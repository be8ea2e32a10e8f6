"""Exchange rules checked before an order is sent: precision, minimums, reduce-only.

An exchange refuses an amount off its step, a price off its tick, an order under its
minimum amount or value; learning that from a rejected request costs a round trip, an
API-error count and, for a stop, an unprotected trade. So the engine applies the
market's rules itself first (ccxt's `amount_to_precision` truncates, its
`price_to_precision` rounds: `MarketInfo.round_amount` / `round_price`) and refuses
with one line saying what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.execution.broker import MarketInfo


@dataclass(frozen=True, slots=True)
class Checked:
    amount: Decimal
    price: Decimal | None
    trigger_price: Decimal | None


class RuleViolation(ValueError):
    """An order the exchange would refuse; the message is the one line to show."""


def apply_rules(m: MarketInfo, *, side: str, amount: Decimal, price: Decimal | None,
                trigger_price: Decimal | None, ref_price: Decimal | None) -> Checked:
    """Round to the market's steps and check its minimums (raises `RuleViolation`).

    `ref_price` values a market order (the proposal's reference price); a limit or
    stop order is valued at its own price."""
    rounded = m.round_amount(amount)
    p = m.round_price(price) if price is not None else None
    tp = m.round_price(trigger_price) if trigger_price is not None else None
    if rounded <= 0 or rounded < m.min_amount:
        raise RuleViolation(f"{side} {amount} {m.base} is below the minimum amount "
                            f"{m.min_amount.normalize():f} for {m.symbol} (step "
                            f"{m.amount_step.normalize():f}): raise the stake")
    if (p is not None and p <= 0) or (tp is not None and tp <= 0):
        raise RuleViolation(f"price rounds to zero at the tick {m.price_step} of {m.symbol}")
    value_at = p or tp or ref_price
    if value_at is not None and m.min_cost > 0 and rounded * value_at < m.min_cost:
        raise RuleViolation(f"{side} of {(rounded * value_at):.2f} {m.quote} is below the "
                            f"minimum order value {m.min_cost.normalize():f} {m.quote} for "
                            f"{m.symbol}: raise the stake")
    return Checked(rounded, p, tp)


def reduce_only_amount(side: str, amount: Decimal, position: Decimal | None) -> Decimal:
    """The amount a reduce-only order may have on spot (long only): a sell capped at
    the position; a buy has nothing to reduce (raises `RuleViolation`)."""
    if side == "buy":
        raise RuleViolation("reduce-only buy: a spot account has no short to reduce")
    if position is None or position <= 0:
        raise RuleViolation("reduce-only sell: no open position to reduce")
    return min(amount, position)
