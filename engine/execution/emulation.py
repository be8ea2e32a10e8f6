"""Engine-side emulation of the order types an exchange cannot hold.

When the capability table (`engine.execution.ordertypes`) says an exchange has no
native stop, take-profit or trailing stop, `ExecutionEngine.add_order` marks the row
`emulated`; `submit` then only accepts it locally (OPEN, nothing sent). The emulator
watches prices (the same quotes the paper broker uses: the candle's high/low, else the
last price) and, when `check_trigger` fires, sends the plain market or limit order
through the broker with the order's own client id.

Restart-safe by construction: everything it needs is on the row (`trigger_price`,
`trailing_pct`, the best price so far in `trail_ref`, `triggered_at`). The firing is
committed BEFORE the order is sent, so after a crash reconciliation finds a fired row,
asks the exchange for its client id, and books it or sends it again
(`Reconciler.reconcile`); an unfired one simply keeps being watched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import col, select

from engine.execution.broker import OrderRequest
from engine.execution.engine import ExecutionEngine
from engine.execution.ordertypes import check_trigger, underlying
from engine.execution.paper import Quote
from engine.storage.models import Order, OrderState

log = logging.getLogger("sentitrade.emulation")


class OrderEmulator:
    """Holds emulated conditional orders; `check()` after each price update."""

    def __init__(self, execution: ExecutionEngine, quotes: Callable[[str], Quote | None]) -> None:
        self.execution = execution
        self.quotes = quotes

    def held(self) -> list[Order]:
        """The emulated orders waiting for their trigger (from the database)."""
        with self.execution.sessions() as s:
            return list(s.exec(select(Order).where(
                col(Order.emulated).is_(True), col(Order.triggered_at).is_(None),
                col(Order.state).in_([OrderState.OPEN, OrderState.PARTIALLY_FILLED]))
                .order_by(col(Order.id))).all())

    async def check(self) -> int:
        """Move trailing references, fire what triggered; returns orders fired."""
        fired = 0
        for o in self.held():
            q = self.quotes(o.symbol)
            if q is None or o.id is None:
                continue
            chk = check_trigger(o.type, o.side, trigger_price=o.trigger_price,
                                trailing_pct=o.trailing_pct, ref=o.trail_ref, last=q.last,
                                high=q.high, low=q.low)
            if not chk.fired and chk.ref == o.trail_ref:
                continue
            with self.execution.sessions.begin() as s:
                row = s.get(Order, o.id)
                if row is None or row.triggered_at is not None or row.state not in (
                        OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                    continue  # canceled or fired meanwhile
                row.trail_ref = chk.ref
                if chk.fired:
                    row.triggered_at = self.execution.clock.now()  # committed before sending
                req = OrderRequest.of(row).fired(underlying(row.type))
            if not chk.fired:
                continue
            log.info("emulated %s %s fired at %s: sending %s", o.type, o.client_order_id,
                     chk.level, req.type)
            await self.execution.send(o.id, req)
            fired += 1
        return fired
