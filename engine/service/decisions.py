"""What the strategy (or an exit rule) wants on a candle, as the candle paths hand it to
`StrategyLoop._act` (shared by the market path and the order-level path)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.strategy.exits import Exit


@dataclass(frozen=True, slots=True)
class Decision:
    """What the strategy (or an exit rule) wants on this candle."""

    direction: str  # long | exit
    reasons: tuple[str, ...]
    inputs: dict[str, Any]
    stake_scale: float = 1.0
    rule: Exit | None = None
    # the order-level path (`engine.service.orderflow`): a limit price, an explicit
    # amount (a position adjustment, a partial exit) and the trade it adds to
    limit: float | None = None
    amount: float | None = None
    trade_id: int | None = None
    forced: bool = False  # an exit rule of an order-level trade (never waits, no risk check)


def dec(x: float) -> Decimal:
    """A float as the Decimal of its short form (what the DB keeps)."""
    return Decimal(repr(float(x)))
