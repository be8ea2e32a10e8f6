"""A trade and its orders with Freqtrade's accounting, for strategy callbacks.

`adjust_trade_position`, `custom_entry_price` and `custom_exit_price` receive a `Trade`:
the same object whether the backtester (`engine.backtest.orders`) or, later, the live
runtime drives it, so a strategy's hooks see the same numbers in both. The arithmetic is
Freqtrade's: order values are decimal products of the floats' short forms (ccxt's
``Precise``), profits are rounded to 8 places, a trade with several entries carries the
averaged open rate (rounded to the price step) and its realised profit.

Prices round to the step Freqtrade uses (`price_to_step`): nearest for custom entry and
exit prices and the averaged open rate, UP for long stops (DOWN for shorts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ccxt.base.precise import Precise

ENTRY, EXIT = "buy", "sell"


def _p(x: float | str | Precise) -> Precise:
    """A float's short decimal form as a `Precise` (Freqtrade's ``FtPrecise(x)``)."""
    return x if isinstance(x, Precise) else Precise(str(x) if not isinstance(x, str) else x)


def _f(p: Precise) -> float:
    return float(str(p))


def _tick(decimals: int) -> float:
    return 1 / 10**decimals


def price_to_step(price: float, decimals: int, mode: str = "nearest") -> float:
    """``price`` on a step of ``10**-decimals`` (``decimals`` < 0: unchanged).

    mode "nearest" is ccxt's ``decimal_to_precision`` (ROUND, TICK_SIZE); "up"/"down"
    are Freqtrade's ``price_to_precision`` with ROUND_UP/ROUND_DOWN: the decimal
    remainder of the price's short form removed (plus one step when rounding up)."""
    if decimals < 0 or price != price:
        return price
    if mode == "nearest":
        from ccxt.base.decimal_to_precision import ROUND, TICK_SIZE, decimal_to_precision

        return float(decimal_to_precision(price, rounding_mode=ROUND,
                                          precision=_tick(decimals), counting_mode=TICK_SIZE))
    step = _p(_tick(decimals))
    pr = _p(price)
    missing = pr.mod(step)
    if str(missing) == "0" or _f(missing) == 0.0:
        return price
    if mode == "up":
        return round(_f(pr.sub(missing).add(step)), 14)
    return round(_f(pr.sub(missing)), 14)


@dataclass(slots=True)
class Order:
    """One order of a trade. ``filled_ms`` is None while it is open."""

    side: str
    is_entry: bool
    tag: str
    amount: float
    price: float
    placed_ms: int
    order_type: str = "market"
    fee: float = 0.0
    filled_ms: int | None = None

    @property
    def filled(self) -> bool:
        return self.filled_ms is not None

    @property
    def cost(self) -> float:
        """Amount x price plus the fee (Freqtrade's backtest order cost)."""
        return self.amount * self.price * (1 + self.fee)

    @property
    def stake_amount_filled(self) -> float:
        """Filled amount x price (Freqtrade divides the decimal product by the leverage,
        which truncates it to 18 decimals: kept, so stakes derived from it agree)."""
        if not self.filled:
            return 0.0
        return _f(_p(self.amount).mul(_p(self.price)).div(_p(1.0)))


@dataclass(slots=True)
class Trade:
    """An open or closed long trade (shorts are not modelled here yet)."""

    pair: str
    open_ms: int  # when the first entry order was placed (Freqtrade's open_date)
    fee: float
    enter_tag: str
    tick: int  # price-step decimals of the entry's month (-1: no rounding)
    orders: list[Order] = field(default_factory=list)
    open_rate: float = 0.0
    amount: float = 0.0
    stake_amount: float = 0.0
    max_stake_amount: float = 0.0
    open_trade_value: float = 0.0
    realized_profit: float = 0.0
    close_profit: float = 0.0
    close_profit_abs: float = 0.0
    close_rate: float = 0.0
    close_ms: int | None = None
    exit_reason: str = ""
    is_open: bool = True
    stop_loss: float = 0.0
    stop_loss_pct: float | None = None
    initial_stop_loss_pct: float | None = None
    is_stop_loss_trailing: bool = False
    entry_side: str = ENTRY
    exit_side: str = EXIT
    is_short: bool = False
    stop_fills_seen: int = 0  # filled orders the custom stoploss was told of (after_fill)

    # ------------------------------------------------------------ what hooks read
    def select_filled_orders(self, side: str | None = None) -> list[Order]:
        return [o for o in self.orders if o.filled and (side is None or o.side == side)]

    @property
    def nr_of_successful_entries(self) -> int:
        return sum(1 for o in self.orders if o.filled and o.is_entry)

    @property
    def nr_of_successful_exits(self) -> int:
        return sum(1 for o in self.orders if o.filled and not o.is_entry)

    @property
    def has_open_orders(self) -> bool:
        return any(not o.filled for o in self.orders)

    @property
    def has_open_position(self) -> bool:
        return self.amount > 0.0 and self.nr_of_successful_entries > 0

    def open_order(self, is_entry: bool) -> Order | None:
        for o in reversed(self.orders):
            if not o.filled and o.is_entry == is_entry:
                return o
        return None

    # ------------------------------------------------------------ Freqtrade's arithmetic
    def open_value(self, amount: float, rate: float) -> float:
        v = _p(amount).mul(_p(rate))
        return _f(v.add(v.mul(_p(self.fee))))

    def close_value(self, amount: float, rate: float) -> float:
        v = _p(amount).mul(_p(rate))
        return _f(v.sub(v.mul(_p(self.fee))))

    def calc_profit_ratio(self, rate: float) -> float:
        """Profit ratio of the whole position at ``rate``, rounded to 8 places."""
        if self.open_trade_value == 0.0:
            return 0.0
        # float first (called on every candle); the decimal product only where float
        # noise could move the 8th decimal
        r = self.amount * rate * (1 - self.fee) / self.open_trade_value - 1
        frac = abs(r) * 1e8 % 1.0
        if abs(frac - 0.5) < 1e-5 or frac < 1e-5 or frac > 1 - 1e-5:
            r = self.close_value(self.amount, rate) / self.open_trade_value - 1
        return float(f"{r:.8f}")

    def adjust_stop_loss(self, price: float, stoploss: float | None, initial: bool = False,
                         allow_refresh: bool = False) -> None:
        """Freqtrade's rule: set from ``price``, rounded UP to the step; afterwards it
        only moves up, and a move marks the stop as trailing. ``allow_refresh`` (a
        custom stoploss right after a fill) sets it anew, down as well."""
        if stoploss is None or (initial and self.stop_loss):
            return
        new = price_to_step(float(price * (1 - abs(stoploss))), self.tick, "up")
        if self.initial_stop_loss_pct is None or allow_refresh:
            self.stop_loss = new
            self.stop_loss_pct = -abs(stoploss)
            self.initial_stop_loss_pct = -abs(stoploss)
        elif new > self.stop_loss:
            self.is_stop_loss_trailing = True
            self.stop_loss = new
            self.stop_loss_pct = -abs(stoploss)

    def fill(self, order: Order, when_ms: int) -> None:
        """Mark ``order`` filled and update the trade (Freqtrade's ``close_bt_order``)."""
        order.filled_ms = when_ms
        if order.is_entry:
            self.open_rate = order.price
            self.recalc()
            if self.nr_of_successful_entries == 1:
                self.initial_stop_loss_pct = None
                self.is_stop_loss_trailing = False
            self.adjust_stop_loss(self.open_rate, self.stop_loss_pct)
        elif abs(order.amount - self.amount) < 1e-12 * max(1.0, self.amount):
            self.close_rate = order.price
            self.close_ms = when_ms
            self.is_open = False
            self.recalc(closing=True)
        else:
            self.recalc()

    def recalc(self, closing: bool = False) -> None:
        """Averaged open rate, amount, stake and realised profit from the filled orders
        (Freqtrade's ``recalc_trade_from_orders``)."""
        zero = Precise("0")
        cur_amount, cur_stake, avg = zero, zero, zero
        max_stake = zero
        total_stake = 0.0
        profit_abs_sum = 0.0
        last_pa = 0.0
        for o in self.orders:
            if not o.filled:
                continue
            amt, pr = _p(o.amount), _p(o.price)
            side = Precise("-1") if not o.is_entry else Precise("1")
            price = avg if not o.is_entry else pr
            cur_amount = cur_amount.add(amt.mul(side))
            cur_stake = cur_stake.add(price.mul(amt).mul(side))
            if o.is_entry:
                if Precise.string_gt(str(cur_amount), "0"):
                    avg = cur_stake.div(cur_amount)
                total_stake += self.open_value(o.amount, _f(price))
                max_stake = max_stake.add(amt.mul(price))
            else:
                cv = self.close_value(o.amount, o.price)
                ov = self.open_value(o.amount, _f(avg))
                last_pa = float(f"{cv - ov:.8f}")
                profit_abs_sum += last_pa
        self.max_stake_amount = _f(max_stake)
        if profit_abs_sum or any(o.filled and not o.is_entry for o in self.orders):
            self.realized_profit = profit_abs_sum
            self.close_profit_abs = last_pa
            if total_stake > 0:
                self.close_profit = profit_abs_sum / total_stake
        amount = _f(cur_amount)
        if amount > 0.0:
            self.open_rate = price_to_step(_f(cur_stake.div(cur_amount)), self.tick)
            self.amount = amount
            self.stake_amount = _f(cur_stake)
            self.open_trade_value = self.open_value(self.amount, self.open_rate)
            if self.stop_loss_pct is not None:
                self.adjust_stop_loss(self.open_rate, self.stop_loss_pct)
        elif closing and total_stake > 0:
            self.close_profit = profit_abs_sum / total_stake
            self.close_profit_abs = profit_abs_sum
