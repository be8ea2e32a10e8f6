"""Unfilled timeout: cancel working orders that waited too long (Freqtrade's
`unfilledtimeout`).

`cancel_unfilled` cancels OPEN/PARTIALLY_FILLED market/limit orders older than the
timeout for their kind (entry or exit, from the proposal's intent; a buy counts as an
entry when there is no proposal). A partial fill stays booked: the trade keeps the
amount filled, and the rest of the order's locked funds is released by the booking of
the cancel. Stop and take-profit orders are never timed out: resting is their job.

Wiring (for `engine.service`): build the timeouts once per bot with
`timeouts_from_strategy(strategy.unfilledtimeout)` and call
`await cancel_unfilled(engine.execution, timeouts, bot_id=bot.id)` after each candle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from engine.execution.engine import ExecutionEngine
from engine.execution.ordertypes import CONDITIONAL
from engine.storage.models import Order, OrderState, Proposal

_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}


@dataclass(frozen=True, slots=True)
class Timeouts:
    entry: timedelta | None = None
    exit: timedelta | None = None


def timeouts_from_strategy(unfilledtimeout: Mapping[str, Any]) -> Timeouts:
    """`{"entry": 10, "exit": 10, "unit": "minutes"}` (Freqtrade's shape; `unit`
    defaults to minutes; a missing side has no timeout). Raises `ValueError` on a
    unit or value it cannot read."""
    unit = str(unfilledtimeout.get("unit", "minutes"))
    if unit not in _UNITS:
        raise ValueError(f"unfilledtimeout unit {unit!r}: use seconds, minutes or hours")

    def one(key: str) -> timedelta | None:
        v = unfilledtimeout.get(key)
        if v is None:
            return None
        if float(v) <= 0:
            raise ValueError(f"unfilledtimeout {key} must be positive, got {v}")
        return timedelta(seconds=float(v) * _UNITS[unit])

    return Timeouts(one("entry"), one("exit"))


async def cancel_unfilled(execution: ExecutionEngine, timeouts: Timeouts, *,
                          bot_id: int | None = None) -> list[Order]:
    """Cancel the working orders older than their timeout; returns them as booked
    (a partial fill kept: `filled` > 0 on a CANCELED order)."""
    now = execution.clock.now()
    q = select(Order, Proposal).join(Proposal, col(Proposal.id) == Order.proposal_id,
                                     isouter=True).where(
        col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED]),
        col(Order.type).not_in(list(CONDITIONAL)))
    if bot_id is not None:
        q = q.where(Order.bot_id == bot_id)
    with execution.sessions() as s:
        rows = list(s.exec(q).all())
    out: list[Order] = []
    for o, p in rows:
        entry = p.intent == "enter" if p is not None else o.side == "buy"
        limit = timeouts.entry if entry else timeouts.exit
        if limit is None or o.id is None or now - o.created_at < limit:
            continue
        kind = "entry" if entry else "exit"
        out.append(await execution.cancel(o.id, f"unfilled {kind} timeout ({limit})"))
    return out
