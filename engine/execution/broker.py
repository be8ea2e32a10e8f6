"""What every broker (paper or ccxt) speaks: requests in, exchange truth out.

A broker never writes orders or fills: it reports what the exchange says
(`BrokerOrder`), and `ExecutionEngine.book` turns that into DB rows in one transaction.
Only the wallet effect of a fill is broker-specific (`on_fill`): the paper broker moves
its simulated funds there, in the same transaction as the fill; a live broker does
nothing (balances come from the exchange at reconciliation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Protocol, runtime_checkable

from sqlmodel import Session, select

from engine.storage.models import Balance, Order


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    type: str  # engine.execution.ordertypes.ORDER_TYPES (market, limit, stop_market, ...)
    amount: Decimal
    price: Decimal | None = None  # the limit price (limit, stop_limit, take_profit_limit)
    time_in_force: str = "GTC"  # GTC | IOC | FOK
    trigger_price: Decimal | None = None  # stop / take-profit level; trailing: activation
    trailing_pct: Decimal | None = None  # trailing stop callback, percent
    post_only: bool = False  # maker only: refused if it would take
    reduce_only: bool = False  # may only shrink a position (checked by the engine on spot)

    @classmethod
    def of(cls, o: Order) -> OrderRequest:
        """The request an order row stands for (same client id on every resend)."""
        return cls(o.client_order_id, o.symbol, o.side, o.type, o.amount, o.price,
                   o.time_in_force or "GTC", o.trigger_price, o.trailing_pct,
                   bool(o.post_only), bool(o.reduce_only))

    def fired(self, type_: str) -> OrderRequest:
        """The plain market/limit request an emulated stop sends once it fires."""
        return replace(self, type=type_, trigger_price=None, trailing_pct=None,
                       time_in_force=self.time_in_force if type_ == "limit" else "GTC")


@dataclass(frozen=True, slots=True)
class BrokerFill:
    trade_key: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts: datetime
    # the booked amount a cumulative delta was computed from (ccxt REST and the user
    # stream report "filled so far", we book the difference): when the database has moved
    # on since that read, the delta is stale and booking it would count a fill twice
    since: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    client_order_id: str
    exchange_order_id: str | None
    status: str  # open | closed | canceled | rejected
    filled: Decimal
    average: Decimal | None
    fills: tuple[BrokerFill, ...] = ()
    error: str | None = None
    triggered: bool = False  # a stop/take-profit has fired (now working as market/limit)
    trail_ref: Decimal | None = None  # trailing stop: best price seen so far


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """Exchange limits for one symbol (ccxt `markets[...]` reduced to what risk needs)."""

    symbol: str
    base: str
    quote: str
    min_amount: Decimal = Decimal(0)
    min_cost: Decimal = Decimal(0)
    amount_step: Decimal = Decimal("0.00000001")
    price_step: Decimal = Decimal("0.00000001")
    extra: dict[str, str] = field(default_factory=dict)

    def round_amount(self, amount: Decimal) -> Decimal:
        """Round DOWN to the step: never buy more than sized, never sell more than held."""
        steps = (amount / self.amount_step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.amount_step).normalize()

    def round_price(self, price: Decimal) -> Decimal:
        steps = (price / self.price_step).to_integral_value()
        return (steps * self.price_step).normalize()


@runtime_checkable
class Broker(Protocol):
    name: str  # stored in orders.exchange
    account: str  # balances.account

    async def load_markets(self) -> dict[str, MarketInfo]: ...
    async def create_order(self, req: OrderRequest) -> BrokerOrder: ...
    async def fetch_order(self, order: Order) -> BrokerOrder | None: ...
    async def cancel_order(self, order: Order) -> BrokerOrder: ...
    async def fetch_balances(self) -> dict[str, tuple[Decimal, Decimal]]: ...
    def on_open(self, session: Session, order: Order) -> None: ...
    def on_fill(self, session: Session, order: Order, fill: BrokerFill) -> None: ...
    def on_release(self, session: Session, order: Order) -> None: ...
    async def close(self) -> None: ...


def balance_row(session: Session, account: str, asset: str) -> Balance:
    """The wallet row for `asset`, created empty on first use (inside the caller's tx)."""
    row = session.exec(select(Balance).where(Balance.account == account,
                                             Balance.asset == asset)).first()
    if row is None:
        row = Balance(account=account, asset=asset, free=Decimal(0), locked=Decimal(0))
        session.add(row)
        session.flush()
    return row
