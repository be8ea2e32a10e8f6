"""Reconciliation: settle what the database thinks is working against the broker.

Split from `engine.execution.engine` (the `ExecutionEngine` inherits it): after a
restart, a timeout or a crash, every active order is asked for by its client id and
booked, resubmitted with the same id, or alerted as unknown. An emulated stop that
has not fired lives only here (the engine holds it), so it is left alone; one that
fired but whose market/limit order never reached the exchange is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlmodel import col, select

from engine.clock import Clock
from engine.errors import ExchangeError
from engine.events import ReconciliationMismatch, record
from engine.execution.broker import Broker, BrokerOrder, OrderRequest, balance_row
from engine.execution.orders import ACTIVE
from engine.execution.ordertypes import underlying
from engine.storage.db import SessionFactory
from engine.storage.models import Order, OrderState


class Reconciler:
    sessions: SessionFactory
    broker: Broker
    clock: Clock
    on_api_error: Callable[[Exception], None]

    def book(self, order_id: int, res: BrokerOrder) -> Order:
        raise NotImplementedError

    def fail(self, order_id: int, reason: str) -> Order:
        raise NotImplementedError

    def too_early(self, o: Order) -> bool:
        raise NotImplementedError

    async def submit(self, order_id: int) -> Order:
        raise NotImplementedError

    async def send(self, order_id: int, req: OrderRequest) -> Order:
        raise NotImplementedError

    async def reconcile(self, *, resubmit: bool = True,
                        states: Sequence[str] = tuple(ACTIVE)) -> list[str]:
        """Settle every order the DB thinks is working (in `states`) against the broker.

        PENDING_CREATE: asked for first, by client id (the ccxt broker asks the
        exchange; the paper broker's journal is this database, where an order it
        executed is booked in the same transaction as its fill) -> booked; not found ->
        resubmitted with the same client id (or failed when `resubmit` is off), but
        only once the clock has reached the order's creation: before that it is left
        `deferred` (see `too_early`). Orders the exchange reports but we never stored
        are alerted as orphans by the live broker's own check.
        """
        notes: list[str] = []
        with self.sessions() as s:
            rows = s.exec(select(Order).where(col(Order.state).in_(list(states)))
                          .order_by(col(Order.id))).all()
        for o in rows:
            assert o.id is not None
            if o.emulated and o.state != OrderState.PENDING_CREATE and o.triggered_at is None:
                continue  # held by the engine, not at the exchange
            try:
                res = await self.broker.fetch_order(o)
            except ExchangeError as e:
                self.on_api_error(e)
                notes.append(f"{o.client_order_id}: fetch failed ({e})")
                continue
            if res is not None:
                if res.fills or res.status != "open" or o.state == OrderState.PENDING_CREATE:
                    self.book(o.id, res)
                    notes.append(f"{o.client_order_id}: synced ({res.status})")
                continue
            if o.emulated and o.triggered_at is not None and o.state in (
                    OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                # fired, but its market/limit order never reached the exchange (the
                # client id is unknown there): send it now, with the same id
                await self.send(o.id, OrderRequest.of(o).fired(underlying(o.type)))
                notes.append(f"{o.client_order_id}: fired order resent")
            elif o.state == OrderState.PENDING_CREATE:
                if self.too_early(o):
                    notes.append(f"{o.client_order_id}: deferred (created "
                                 f"{o.created_at:%Y-%m-%d %H:%M}, clock at "
                                 f"{self.clock.now():%Y-%m-%d %H:%M})")
                elif resubmit:
                    await self.submit(o.id)
                    notes.append(f"{o.client_order_id}: resubmitted")
                else:
                    self.fail(o.id, "not found at the exchange after restart")
                    notes.append(f"{o.client_order_id}: failed (not found)")
            elif self.broker.name != "paper":
                with self.sessions.begin() as s:
                    record(s, ReconciliationMismatch(
                        ts_event=self.clock.now(), key=f"missing:{o.client_order_id}",
                        detail=f"order {o.client_order_id} is {o.state} here but unknown "
                               "at the exchange"))
                notes.append(f"{o.client_order_id}: unknown at exchange")
        return notes

    async def submit_due(self) -> int:
        """Reconcile only the PENDING_CREATE orders (a resumed replay calls this after
        each candle while one is deferred); returns how many must still wait."""
        await self.reconcile(states=(OrderState.PENDING_CREATE,))
        with self.sessions() as s:
            left = s.exec(select(Order).where(Order.state == OrderState.PENDING_CREATE)).all()
        return sum(1 for o in left if self.too_early(o))

    async def sync_balances(self, assets: Sequence[str] | None = None) -> dict[str, Decimal]:
        """Live only: store the exchange's balances (the paper wallet IS the DB)."""
        if self.broker.name == "paper":
            return {}
        bal = await self.broker.fetch_balances()
        with self.sessions.begin() as s:
            for asset, (free, locked) in bal.items():
                if assets and asset not in assets:
                    continue
                row = balance_row(s, self.broker.account, asset)
                row.free, row.locked, row.updated_at = free, locked, self.clock.now()
        return {a: f + lk for a, (f, lk) in bal.items()}
