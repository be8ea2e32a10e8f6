"""Paper broker: fills simulated from market prices, wallet kept in `balances`.

- market orders: walk the order book when the price source gives one (a thin book
  yields a partial fill, the rest is canceled), else the last price moved against us by
  `slippage_bps`; taker fee.
- limit orders: GTC rests OPEN with funds locked; fill at the limit price (maker fee)
  once the market trades through it (a candle's low for a buy, high for a sell). IOC
  takes what the book (or the last price) offers within the limit now and cancels the
  rest; FOK fills wholly or is killed; post-only is refused when it would take.
- stop-market/stop-limit/take-profit(-limit)/trailing stop: rest OPEN with funds
  locked until `check_trigger` fires on the candle's high/low (else the last price),
  then fill as a market order (taker fee, book walk or slippage from the stop level)
  or continue as a limit; a trailing stop's best price travels in `trail_ref`.
- the wallet changes only in `on_fill`/`on_open`/`on_release`, which the execution
  engine calls inside the transaction that books the order, so a crash can never leave
  money moved without its fill (or the reverse).

Nothing is kept in memory: an order the paper "exchange" never booked simply does not
exist (`fetch_order` -> None), which makes resubmitting after a crash safe.
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session

from engine.clock import Clock
from engine.errors import InsufficientFunds, OrderRejected
from engine.execution.broker import (
    BrokerFill,
    BrokerOrder,
    MarketInfo,
    OrderRequest,
    balance_row,
)
from engine.execution.ordertypes import (
    CONDITIONAL,
    LABELS,
    LIMIT_PRICED,
    TRAILING_STOP,
    check_trigger,
    stop_level,
    validate,
)
from engine.execution.paper_common import (
    MONEY_STEP,
    PaperVenue,
    Quote,
    QuoteSource,
    split_symbol,
)
from engine.storage.db import SessionFactory
from engine.storage.models import Order, OrderState

_split = split_symbol


class PaperBroker(PaperVenue):
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

    def _free(self, asset: str) -> Decimal:
        with self.sessions() as s:
            return balance_row(s, self.account, asset).free

    async def create_order(self, req: OrderRequest) -> BrokerOrder:
        if req.amount <= 0:
            raise OrderRejected(f"amount must be positive, got {req.amount}")
        why = validate(req.type, price=req.price, trigger_price=req.trigger_price,
                       trailing_pct=req.trailing_pct, time_in_force=req.time_in_force,
                       post_only=req.post_only)
        if why is not None:
            raise OrderRejected(why)
        base, quote = _split(req.symbol)
        q = self._quote(req.symbol)
        eid = f"paper-{req.client_order_id}"
        if req.type in CONDITIONAL:
            return self._place_conditional(req, q, eid)
        if req.type == "limit":
            assert req.price is not None
            marketable = self._marketable(req.side, req.price, q)
            if req.post_only and marketable:
                raise OrderRejected(f"post-only {req.side} at {req.price} would take "
                                    f"(market at {q.last}): refused")
            if req.time_in_force == "GTC":
                need = self._reserve(req.side, req.price, self.maker_fee) * req.amount
                asset = quote if req.side == "buy" else base
                if self._free(asset) < need:
                    raise InsufficientFunds(f"not enough {asset} to lock {need:.8f}")
                return BrokerOrder(req.client_order_id, eid, "open", Decimal(0), None)
            fills = self._take(req.side, req.amount, q, limit=req.price)
        else:
            fills = self._take(req.side, req.amount, q)
        filled = sum((a for _, a in fills), Decimal(0))
        if req.time_in_force == "FOK" and filled < req.amount:
            return BrokerOrder(req.client_order_id, eid, "canceled", Decimal(0), None,
                               error=f"fill-or-kill: only {filled} of {req.amount} "
                                     "available at the limit: killed")
        if filled == 0:
            if req.type == "limit":
                return BrokerOrder(req.client_order_id, eid, "canceled", Decimal(0), None,
                                   error="immediate-or-cancel: nothing at the limit: canceled")
            return BrokerOrder(req.client_order_id, None, "rejected", Decimal(0), None,
                               error="empty order book")
        fill = self._fill(req.client_order_id, "1", req.side, req.symbol, fills, self.taker_fee)
        cost = fill.amount * fill.price
        if req.side == "buy" and self._free(quote) < cost + fill.fee:
            raise InsufficientFunds(f"not enough {quote}: need {cost + fill.fee:.2f}, "
                                    f"have {self._free(quote):.2f}")
        if req.side == "sell" and self._free(base) < filled:
            raise InsufficientFunds(f"not enough {base}: need {filled}, have {self._free(base)}")
        status = "closed" if filled >= req.amount else "canceled"
        err = None if status == "closed" else (
            "immediate-or-cancel: rest canceled" if req.type == "limit" else None)
        return BrokerOrder(req.client_order_id, eid, status, filled, fill.price, (fill,),
                           error=err)

    def _place_conditional(self, req: OrderRequest, q: Quote, eid: str) -> BrokerOrder:
        """Rest a stop/take-profit/trailing order (refused, as Binance does, when its
        stop price would trigger at once)."""
        base, quote = _split(req.symbol)
        chk = check_trigger(req.type, req.side, trigger_price=req.trigger_price,
                            trailing_pct=req.trailing_pct, ref=None, last=q.last)
        if req.type != TRAILING_STOP and chk.fired:
            raise OrderRejected(f"{LABELS[req.type]} {req.side} at {req.trigger_price} would "
                                f"trigger immediately (market at {q.last}): refused")
        asset = quote if req.side == "buy" else base
        need = self._reserve(req.side, self._ref_price(req.type, req.price, req.trigger_price,
                                                       req.trailing_pct, q.last),
                             max(self.maker_fee, self.taker_fee)) * req.amount
        if self._free(asset) < need:
            raise InsufficientFunds(f"not enough {asset} to lock {need:.8f}")
        return BrokerOrder(req.client_order_id, eid, "open", Decimal(0), None,
                           trail_ref=chk.ref)

    def _marketable(self, side: str, price: Decimal, q: Quote) -> bool:
        if side == "buy":
            return price >= (q.asks[0][0] if q.asks else q.last)
        return price <= (q.bids[0][0] if q.bids else q.last)

    def _take(self, side: str, amount: Decimal, q: Quote, *,
              limit: Decimal | None = None) -> list[tuple[Decimal, Decimal]]:
        """Take liquidity now: walk the book (up to `limit`), else the last price moved
        against us by the slippage (capped at `limit`; nothing when it is not reached)."""
        levels = q.asks if side == "buy" else q.bids
        fills: list[tuple[Decimal, Decimal]] = []
        if levels:
            left = amount
            for price, size in levels:
                if limit is not None and (price > limit if side == "buy" else price < limit):
                    break
                take = min(left, size)
                if take > 0:
                    fills.append((price, take))
                    left -= take
                if left <= 0:
                    break
            return fills
        sign = 1 if side == "buy" else -1
        price = q.last * (1 + sign * self.slippage)
        if limit is not None:
            if not self._marketable(side, limit, q):
                return []
            price = min(price, limit) if side == "buy" else max(price, limit)
        return [(price, amount)]

    def _fill(self, cid: str, tag: str, side: str, symbol: str,
              fills: list[tuple[Decimal, Decimal]], fee_rate: Decimal) -> BrokerFill:
        filled = sum((a for _, a in fills), Decimal(0))
        cost = sum((p * a for p, a in fills), Decimal(0))
        # the database keeps 18 decimals: no coarser rounding of a simulated fill price
        # (a computed rate, a stop or ROI target, is not on any 8-decimal grid)
        avg = (cost / filled).quantize(Decimal("1e-18"))
        fee = (cost * fee_rate).quantize(Decimal("0.00000001"))
        return BrokerFill(f"{cid}-{tag}", filled, avg, fee, _split(symbol)[1], self.clock.now())

    async def fetch_order(self, order: Order) -> BrokerOrder | None:
        if order.state == OrderState.PENDING_CREATE:
            return None  # never reached the paper exchange (or died before booking)
        if order.state not in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
            return None
        q = self.quotes(order.symbol)
        if q is None:
            return None
        low = q.low if q.low is not None else q.last
        high = q.high if q.high is not None else q.last
        cid, eid = order.client_order_id, order.exchange_order_id
        triggered = order.triggered_at is not None
        if order.type in CONDITIONAL and not triggered:
            chk = check_trigger(order.type, order.side, trigger_price=order.trigger_price,
                                trailing_pct=order.trailing_pct, ref=order.trail_ref,
                                last=q.last, high=high, low=low)
            if not chk.fired or chk.level is None:
                return BrokerOrder(cid, eid, "open", order.filled, order.average_price,
                                   trail_ref=chk.ref)
            triggered = True
            if order.type not in LIMIT_PRICED:  # fires as a market order
                left = order.amount - order.filled
                if q.asks if order.side == "buy" else q.bids:
                    fills = self._take(order.side, left, q)
                else:
                    fills = [(self._stop_fill_price(order.side, chk.level, high, low), left)]
                if not fills:
                    return BrokerOrder(cid, eid, "canceled", order.filled, order.average_price,
                                       error="triggered on an empty book: canceled",
                                       triggered=True, trail_ref=chk.ref)
                fill = self._fill(cid, "T", order.side, order.symbol, fills, self.taker_fee)
                status = "closed" if fill.amount >= left else "canceled"
                return BrokerOrder(cid, eid, status, order.filled + fill.amount, fill.price,
                                   (fill,), triggered=True, trail_ref=chk.ref)
        if order.price is None:
            return None
        crossed = low <= order.price if order.side == "buy" else high >= order.price
        if not crossed:
            return BrokerOrder(cid, eid, "open", order.filled, order.average_price,
                               triggered=triggered)
        amount = order.amount - order.filled
        fee = (amount * order.price * self.maker_fee).quantize(Decimal("0.00000001"))
        fill = BrokerFill(f"{cid}-L", amount, order.price, fee, _split(order.symbol)[1],
                          self.clock.now())
        return BrokerOrder(cid, eid, "closed", order.amount, order.price, (fill,),
                           triggered=triggered)

    def _stop_fill_price(self, side: str, level: Decimal, high: Decimal, low: Decimal) -> Decimal:
        """A fired stop fills at its level, or where the candle gapped past it, moved
        against us by the slippage."""
        if side == "sell":
            return min(level, high) * (1 - self.slippage)
        return max(level, low) * (1 + self.slippage)

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
    def _reserve(self, side: str, price: Decimal, fee: Decimal) -> Decimal:
        """Funds locked per unit: quote for a buy (price plus fee), the coin for a sell."""
        return price * (1 + fee) if side == "buy" else Decimal(1)

    def _ref_price(self, type_: str, price: Decimal | None, trigger: Decimal | None,
                   trailing_pct: Decimal | None, last: Decimal) -> Decimal:
        """The price a buy may pay: its limit, else its trigger (or the trailing level
        from the price now), plus the slippage a market fill may cost."""
        if price is not None and type_ in LIMIT_PRICED:
            return price
        if type_ == TRAILING_STOP:
            ref = stop_level(type_, "buy", None, trailing_pct, max(last, trigger or last))
            return (ref or last) * (1 + self.slippage)
        return (trigger or last) * (1 + self.slippage)

    def on_open(self, session: Session, order: Order) -> None:
        """Lock what a resting order may spend and note it on the order (`reserved`),
        so fills and the final release move exactly what was locked."""
        if order.type == "market":
            return
        base, quote = _split(order.symbol)
        row = balance_row(session, self.account, quote if order.side == "buy" else base)
        if order.type == "limit" and order.time_in_force == "GTC":
            fee = self.maker_fee
        else:
            fee = max(self.maker_fee, self.taker_fee)
        q = self.quotes(order.symbol)
        last = q.last if q is not None else (order.price or order.trigger_price or Decimal(0))
        ref = self._ref_price(order.type, order.price, order.trigger_price, order.trailing_pct,
                              last)
        need = (self._reserve(order.side, ref, fee) * order.amount).quantize(MONEY_STEP)
        if row.free < need:
            raise InsufficientFunds(f"not enough {row.asset} to lock {need}")
        row.free -= need
        row.locked += need
        order.reserved = need
        row.updated_at = self.clock.now()

    def _release_part(self, order: Order, fill_amount: Decimal) -> Decimal:
        """The share of the order's lock a fill uses (all that is left on the last one);
        rows from before `reserved` existed use the limit-price formula."""
        if order.reserved is None:
            assert order.price is not None
            per_unit = self._reserve(order.side, order.price, self.maker_fee)
            return (per_unit * fill_amount).quantize(MONEY_STEP)
        left_before = order.amount - order.filled + fill_amount
        if fill_amount >= left_before:
            part = order.reserved
        else:
            part = (order.reserved * fill_amount / left_before).quantize(MONEY_STEP)
        order.reserved -= part
        return part

    def on_fill(self, session: Session, order: Order, fill: BrokerFill) -> None:
        base, quote = _split(order.symbol)
        q = balance_row(session, self.account, quote)
        b = balance_row(session, self.account, base)
        # money moves in units the database keeps (18 decimals): the wallet is then
        # exactly the sum of its fills' effects on every database
        cost = (fill.amount * fill.price).quantize(MONEY_STEP)
        locked = order.type != "market"
        if order.side == "buy":
            spend = cost + fill.fee
            if locked:
                reserved = self._release_part(order, fill.amount)
                q.locked -= reserved
                q.free += reserved - spend
            else:
                q.free -= spend
            b.free += fill.amount
        else:
            if locked:
                b.locked -= self._release_part(order, fill.amount)
            else:
                b.free -= fill.amount
            q.free += cost - fill.fee
        q.updated_at = b.updated_at = self.clock.now()

    def on_release(self, session: Session, order: Order) -> None:
        if order.type == "market":
            return
        if order.reserved is None and order.price is None:
            return
        base, quote = _split(order.symbol)
        row = balance_row(session, self.account, quote if order.side == "buy" else base)
        if order.reserved is not None:
            rest = order.reserved
            order.reserved = Decimal(0)
        else:
            assert order.price is not None
            per_unit = self._reserve(order.side, order.price, self.maker_fee)
            rest = (per_unit * (order.amount - order.filled)).quantize(MONEY_STEP)
        row.locked -= rest
        row.free += rest
        row.updated_at = self.clock.now()

    async def close(self) -> None:
        return None
