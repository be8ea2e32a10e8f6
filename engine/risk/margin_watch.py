"""Watching futures positions: the liquidation-distance alert.

`near_liquidation` turns (position, mark price) into a `LiquidationNear` event when the
mark has come within `threshold_pct` of the liquidation price. The event's dedup key is
the trade and its liquidation price, so recording it on every tick alerts once per
position (again only after a fill or funding charge moved the liquidation price). Paper
and live use the same rule; the paper futures broker also liquidates (`hit`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from engine.events import LiquidationNear
from engine.margin.position import liquidation_distance
from engine.storage.models import Trade


def _sign(t: Trade) -> int:
    return 1 if t.side == "long" else -1


def hit(t: Trade, low: Decimal, high: Decimal) -> bool:
    """Did the mark reach the liquidation price within [low, high]?"""
    lp = t.liquidation_price
    if lp is None or not t.is_open:
        return False
    return low <= lp if _sign(t) == 1 else high >= lp


def near_liquidation(t: Trade, mark: Decimal, threshold_pct: float,
                     now: datetime) -> LiquidationNear | None:
    """The alert event, or None while the mark is farther than the threshold (or the
    position cannot be liquidated)."""
    lp = t.liquidation_price
    if lp is None or not t.is_open or t.id is None or mark <= 0:
        return None
    dist = float(liquidation_distance(_sign(t), mark, lp)) * 100.0
    if dist > threshold_pct:
        return None
    return LiquidationNear(ts_event=now, trade_id=t.id, symbol=t.symbol, side=t.side,
                           mark_price=mark, liquidation_price=lp,
                           distance_pct=round(max(dist, 0.0), 4), threshold_pct=threshold_pct)
