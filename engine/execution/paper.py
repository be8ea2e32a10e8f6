"""Paper broker: fills simulated from market prices, wallet kept in `balances`.

- market orders: walk the order book when the price source gives one (a thin book
  yields a partial fill, the rest is canceled), else the last price moved against us by
  `slippage_bps`; taker fee.
- limit orders: rest OPEN with funds locked; fill at the limit price (maker fee) once
  the market trades through it (a candle's low for a buy, high for a sell).
- the wallet changes only in `on_fill`/`on_open`/`on_release`, which the execution
  engine calls inside the transaction that books the order, so a crash can never leave
  money moved without its fill (or the reverse).

Nothing is kept in memory: an order the paper "exchange" never booked simply does not
exist (`fetch_order` -> None), which makes resubmitting after a crash safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from engine.clock import Clock
from engine.errors import ExchangeUnavailable, InsufficientFunds, OrderRejected
from engine.execution.broker import (
    BrokerFill,
    BrokerOrder,
    MarketInfo,
    OrderRequest,
    balance_row,
)
from engine.storage.db import SessionFactory
from engine.storage.models import Order, OrderState


@dataclass(frozen=True, slots=True)
class Quote:
    """What the paper broker knows of a market right now."""

    last: Decimal
    high: Decimal | None = None  # of the current candle: limit orders cross on these
    low: Decimal | None = None
    asks: tuple[tuple[Decimal, Decimal], ...] = ()  # (price, amount), best first
    bids: tuple[tuple[Decimal, Decimal], ...] = ()


QuoteSource = Callable[[str], Quote | None]


def _split(symbol: str) -> tuple[str, str]:
    base, quote = symbol.split("/")
    return base, quote.split(":")[0]


MONEY_STEP = Decimal("1e-18")


class PaperBroker:
    name = "paper"

    def __init__(self, sessions: SessionFactory, quotes: QuoteSource, clock: Clock, *,
                 maker_fee: Decimal = Decimal("0.001"), taker_fee: Decimal = Decimal("0.001"),
                 slippage_bps: float = 5.0, account: str = "paper",
                 markets: dict[str, MarketInfo] | None = None) -> None:
        self.sessions = sessions
        self.quotes = quotes
        self.clock = clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.slippage = Decimal(str(slippage_bps)) / Decimal(10_000)
        self.account = account
        self.markets = markets or {}

    def fund(self, asset: str, amount: Decimal) -> None:
        """Seed the wallet once (no-op when the asset already has a row)."""
        with self.sessions.begin() as s:
            row = balance_row(s, self.account, asset)
            if row.free == 0 and row.locked == 0:
                row.free = amount
                row.updated_at = self.clock.now()

    def market(self, symbol: str) -> MarketInfo:
        """The market's rules; without a table from the exchange (a replay), none: the
        amount is the stake over the price to the database's 18 decimals and prices are
        taken as they come, as the backtester does without a market table."""
        if symbol not in self.markets:
            base, quote = _split(symbol)
            self.markets[symbol] = MarketInfo(symbol, base, quote, amount_step=Decimal("1e-18"),
                                              price_step=Decimal("1e-18"))
        return self.markets[symbol]

    async def load_markets(self) -> dict[str, MarketInfo]:
        return dict(self.markets)

    def _quote(self, symbol: str) -> Quote:
        q = self.quotes(symbol)
        if q is None:
            # not sent, so safe to retry: reconciliation resubmits once a price is known
            raise ExchangeUnavailable(f"no price for {symbol} yet: the paper broker cannot fill")
        return q

    def _free(self, asset: str) -> Decimal:
        with self.sessions() as s:
            return balance_row(s, self.account, asset).free

    async def create_order(self, req: OrderRequest) -> BrokerOrder:
        if req.amount <= 0:
            raise OrderRejected(f"amount must be positive, got {req.amount}")
        base, quote = _split(req.symbol)
        q = self._quote(req.symbol)
        if req.type == "limit":
            if req.price is None or req.price <= 0:
                raise OrderRejected("a limit order needs a positive price")
            buy = req.side == "buy"
            need = req.amount * req.price * (1 + self.maker_fee) if buy else req.amount
            if self._free(quote if req.side == "buy" else base) < need:
                raise InsufficientFunds(f"not enough {quote if req.side == 'buy' else base} "
                                        f"to lock {need:.8f}")
            return BrokerOrder(req.client_order_id, f"paper-{req.client_order_id}", "open",
                               Decimal(0), None)
        levels = q.asks if req.side == "buy" else q.bids
        fills: list[tuple[Decimal, Decimal]] = []
        if levels:
            left = req.amount
            for price, size in levels:
                take = min(left, size)
                if take > 0:
                    fills.append((price, take))
                    left -= take
                if left <= 0:
                    break
        else:
            sign = 1 if req.side == "buy" else -1
            fills.append((q.last * (1 + sign * self.slippage), req.amount))
        filled = sum((a for _, a in fills), Decimal(0))
        if filled == 0:
            return BrokerOrder(req.client_order_id, None, "rejected", Decimal(0), None,
                               error="empty order book")
        cost = sum((p * a for p, a in fills), Decimal(0))
        # the database keeps 18 decimals: no coarser rounding of a simulated fill price
        # (a computed rate, a stop or ROI target, is not on any 8-decimal grid)
        avg = (cost / filled).quantize(Decimal("1e-18"))
        fee = (cost * self.taker_fee).quantize(Decimal("0.00000001"))
        if req.side == "buy" and self._free(quote) < cost + fee:
            raise InsufficientFunds(f"not enough {quote}: need {cost + fee:.2f}, "
                                    f"have {self._free(quote):.2f}")
        if req.side == "sell" and self._free(base) < filled:
            raise InsufficientFunds(f"not enough {base}: need {filled}, have {self._free(base)}")
        fill = BrokerFill(f"{req.client_order_id}-1", filled, avg, fee, quote, self.clock.now())
        status = "closed" if filled >= req.amount else "canceled"
        return BrokerOrder(req.client_order_id, f"paper-{req.client_order_id}", status,
                           filled, avg, (fill,))

    async def fetch_order(self, order: Order) -> BrokerOrder | None:
        if order.state == OrderState.PENDING_CREATE:
            return None  # never reached the paper exchange (or died before booking)
        if order.state not in (OrderState.OPEN, OrderState.PARTIALLY_FILLED) or order.price is None:
            return None
        q = self.quotes(order.symbol)
        if q is None:
            return None
        low = q.low if q.low is not None else q.last
        high = q.high if q.high is not None else q.last
        crossed = low <= order.price if order.side == "buy" else high >= order.price
        if not crossed:
            return BrokerOrder(order.client_order_id, order.exchange_order_id, "open",
                               order.filled, order.average_price)
        amount = order.amount - order.filled
        fee = (amount * order.price * self.maker_fee).quantize(Decimal("0.00000001"))
        fill = BrokerFill(f"{order.client_order_id}-L", amount, order.price, fee,
                          _split(order.symbol)[1], self.clock.now())
        return BrokerOrder(order.client_order_id, order.exchange_order_id, "closed",
                           order.amount, order.price, (fill,))

    async def cancel_order(self, order: Order) -> BrokerOrder:
        return BrokerOrder(order.client_order_id, order.exchange_order_id, "canceled",
                           order.filled, order.average_price)

    async def fetch_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        from sqlmodel import select

        from engine.storage.models import Balance

        with self.sessions() as s:
            rows = s.exec(select(Balance).where(Balance.account == self.account)).all()
            return {r.asset: (r.free, r.locked) for r in rows}

    # ------------------------------------------------------------ wallet effects
    def _reserve_per_unit(self, order: Order) -> Decimal:
        assert order.price is not None
        return order.price * (1 + self.maker_fee) if order.side == "buy" else Decimal(1)

    def on_open(self, session: Session, order: Order) -> None:
        if order.type != "limit":
            return
        base, quote = _split(order.symbol)
        row = balance_row(session, self.account, quote if order.side == "buy" else base)
        need = (self._reserve_per_unit(order) * order.amount).quantize(MONEY_STEP)
        if row.free < need:
            raise InsufficientFunds(f"not enough {row.asset} to lock {need}")
        row.free -= need
        row.locked += need
        row.updated_at = self.clock.now()

    def on_fill(self, session: Session, order: Order, fill: BrokerFill) -> None:
        base, quote = _split(order.symbol)
        q = balance_row(session, self.account, quote)
        b = balance_row(session, self.account, base)
        # money moves in units the database keeps (18 decimals): the wallet is then
        # exactly the sum of its fills' effects on every database
        cost = (fill.amount * fill.price).quantize(MONEY_STEP)
        locked = order.type == "limit"
        if order.side == "buy":
            spend = cost + fill.fee
            if locked:
                reserved = (self._reserve_per_unit(order) * fill.amount).quantize(MONEY_STEP)
                q.locked -= reserved
                q.free += reserved - spend
            else:
                q.free -= spend
            b.free += fill.amount
        else:
            if locked:
                b.locked -= fill.amount
            else:
                b.free -= fill.amount
            q.free += cost - fill.fee
        q.updated_at = b.updated_at = self.clock.now()

    def on_release(self, session: Session, order: Order) -> None:
        if order.type != "limit" or order.price is None:
            return
        base, quote = _split(order.symbol)
        row = balance_row(session, self.account, quote if order.side == "buy" else base)
        rest = (self._reserve_per_unit(order) * (order.amount - order.filled)).quantize(MONEY_STEP)
        row.locked -= rest
        row.free += rest
        row.updated_at = self.clock.now()

    async def close(self) -> None:
        return None
