"""The grid bot (`grid`) on Freqtrade's order hooks: arithmetic, geometric and infinity
grids as one trade per pair.

How a grid maps onto one trade: the first entry is the grid's start; it buys the lots
of the lines above the price (a grid holds one lot for each sell line above it). Lines
sit between ``lower = start x (1 - lower_pct)`` and ``upper = start x (1 + upper_pct)``:
evenly spaced (arithmetic) or at a constant ratio (geometric); ``levels`` intervals, so
``levels + 1`` lines; the line nearest the price carries no order. On each candle's open
`adjust_trade_position` decides, from the trade's filled orders alone:

- the price opened at or above the next sell line: sell one lot per crossed line
  (a partial exit at the open);
- otherwise: a limit buy of one lot at the next line below, good for this candle
  (``unfilledtimeout`` of one 5m candle), so it fills only if the candle trades
  through the line; a candle that opens below the line buys every crossed line's lot
  at the open;
- price at or above the upper bound: without ``trailing_up`` the last lot is sold and
  the trade closes (``grid_above_range``; the next entry signal starts a new grid at the
  price then); with it the grid moves up one line at a time: a lot is bought at the
  open (``grid_trail``) and becomes the top lot, and the old top lot sells at the next
  open (Bitsgap's trailing up: sell at the top, buy back one line higher);
- whole-grid stop-loss (the open below the lowest line x (1 - ``stop_below``)) and
  take-profit
  (realised plus open profit >= ``take_profit`` x the grid's investment): sell all.

Infinity grid: geometric lines without an upper bound; each line crossed upward sells a
fixed quote value (the start position's value x one step's ratio, what a step up adds
to it) and each line crossed downward buys the same value, down to the lower bound.

Honest limits: this interface has ONE resting order per pair at a time and decides on
candle opens, so it is a candle-granularity grid, not N resting orders: at most one buy
line fills inside a candle, and sells happen at the next open after a line was crossed
(at that open's price), not at the line. The state (start price, lines, lots held,
trailing shifts) is recomputed from the trade's filled orders (side, amount, price): no
instance state, so a restart changes no decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.strategy.interface import (
    BooleanParameter,
    CategoricalParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
)

ARITHMETIC, GEOMETRIC, INFINITY = "arithmetic", "geometric", "infinity"


@dataclass(frozen=True, slots=True)
class GridLines:
    """The lines of one grid: line(i) for any i >= 0 (above the top for trailing)."""

    kind: str
    lower: float
    step: float  # arithmetic: price step; geometric/infinity: ratio

    def line(self, i: int) -> float:
        """Line ``i``, to 12 significant digits (a price exactly on a line reaches it,
        float noise aside)."""
        x = self.lower + i * self.step if self.kind == ARITHMETIC else self.lower * self.step**i
        return float(f"{x:.12g}")

    def nearest(self, price: float) -> int:
        if self.kind == ARITHMETIC:
            return max(0, round((price - self.lower) / self.step))
        return max(0, round(math.log(price / self.lower) / math.log(self.step)))


def grid_lines(kind: str, start: float, lower_pct: float, upper_pct: float,
               levels: int) -> GridLines:
    """Lines of a grid started at `start` (bounds relative to it)."""
    lo, hi = start * (1 - lower_pct), start * (1 + upper_pct)
    if kind == ARITHMETIC:
        return GridLines(kind, lo, (hi - lo) / levels)
    return GridLines(kind, lo, (hi / lo) ** (1.0 / levels))


def start_line(kind: str, lower_pct: float, upper_pct: float, levels: int) -> int:
    """The line nearest the start price (no order there); the grid starts holding
    ``levels - start_line`` lots. The same for any start price (bounds are relative)."""
    return min(levels - 1, grid_lines(kind, 1.0, lower_pct, upper_pct, levels).nearest(1.0))


@dataclass(frozen=True, slots=True)
class GridState:
    """What the filled orders say: lines, the empty line ``k``, shifts ``s`` (lines
    are s..s+levels), the base quantity of a lot (grids) or the quote value of a step
    (infinity), and the grid's investment."""

    lines: GridLines
    k: int
    s: int
    lot: float
    value: float
    investment: float
    n_filled: int


class Grid(Strategy):
    """Grid trading on one trade per pair (see the module docstring)."""

    name = "grid"
    timeframe = "5m"
    stoploss = -0.99  # the grid has its own stop (stop_below); Freqtrade's stays out
    use_exit_signal = False
    position_adjustment_enable = True
    max_entry_position_adjustment = -1
    startup_candle_count = 400  # the "ranging" start reads the regime
    order_types: ClassVar[dict[str, Any]] = {
        "entry": "limit", "exit": "market", "stoploss": "market",
        "stoploss_on_exchange": False}
    # a grid buy is good for the candle it was placed in (one 5m candle)
    unfilledtimeout: ClassVar[dict[str, Any]] = {"entry": 5, "unit": "minutes"}

    grid_type = CategoricalParameter([ARITHMETIC, GEOMETRIC, INFINITY], default=ARITHMETIC,
                                     space="buy")
    levels = IntParameter(4, 40, default=10, space="buy")
    lower_pct = DecimalParameter(0.02, 0.5, default=0.1, decimals=3, space="buy")
    upper_pct = DecimalParameter(0.02, 0.5, default=0.1, decimals=3, space="buy")
    trailing_up = BooleanParameter(default=False, space="buy")
    start = CategoricalParameter(["immediately", "ranging"], default="immediately",
                                 space="buy")
    stop_below = DecimalParameter(0.0, 0.5, default=0.05, decimals=3, space="sell")
    take_profit = DecimalParameter(0.01, 1.0, default=0.3, decimals=3, space="sell")

    # ------------------------------------------------------------ signals
    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        if self.start == "ranging":
            from engine.signals.regime import QUIET, RANGING, regime_columns

            reg = regime_columns(frame["high"], frame["low"], frame["close"])["regime"]
            frame["grid_ok"] = (np.asarray(reg) == RANGING) | (np.asarray(reg) == QUIET)
        else:
            frame["grid_ok"] = np.ones(frame.n, dtype=np.bool_)
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame["enter_long"] = np.asarray(frame["grid_ok"]) & (frame["volume"] > 0)
        n, k0 = int(self.levels), self._start_line()
        frame["stake_scale"] = np.full(frame.n, (n - k0) / n)  # the lots above the start
        frame["enter_tag"] = f"grid_{self.grid_type}"
        return frame

    def _start_line(self) -> int:
        return start_line(str(self.grid_type), float(self.lower_pct), float(self.upper_pct),
                          int(self.levels))

    # ------------------------------------------------------------ state from orders
    def state(self, trade: Any) -> GridState:
        """The grid's state, replayed from the trade's filled orders. A memo per trade
        keeps this O(new orders) per candle; it holds nothing the orders do not say (a
        fresh instance computes the same state)."""
        orders = trade.orders
        memo: dict[int, tuple[Any, GridState, int, Any]] = self.__dict__.setdefault(
            "_grid_memo", {})
        hit = memo.get(id(trade))
        at, first = next((j, o) for j, o in enumerate(orders) if o.filled)
        key = (trade.pair, trade.open_ms, id(first), self._signature())
        pos = 0
        if (hit is not None and hit[0] == key and hit[2] <= len(orders)
                and orders[hit[2] - 1] is hit[3]):
            st, pos = hit[1], hit[2]
        else:
            st = self._initial(first)
            pos = at + 1
        k, s, n_filled = st.k, st.s, st.n_filled
        i = pos
        while i < len(orders) and orders[i].filled:
            k, s = self._apply(st, orders[i], k, s)
            n_filled += 1
            i += 1
        if any(o.filled for o in orders[i:]):
            # a fill after an open order (the backtester never leaves one): replay all
            st = self._initial(first)
            k, s, n_filled = st.k, st.s, 1
            for o in [x for x in orders if x.filled][1:]:
                k, s = self._apply(st, o, k, s)
                n_filled += 1
            i = 0
        st = GridState(st.lines, k, s, st.lot, st.value, st.investment, n_filled)
        if len(memo) > 4096:  # closed trades' entries: drop them all now and then
            memo.clear()
        if i > 0:
            memo[id(trade)] = (key, st, i, orders[i - 1])
        return st

    def _initial(self, first: Any) -> GridState:
        """The grid as its first fill started it."""
        kind, n = str(self.grid_type), int(self.levels)
        lines = grid_lines(kind, first.price, float(self.lower_pct), float(self.upper_pct), n)
        k0 = self._start_line()
        value = first.amount * first.price * (lines.step - 1.0) if kind == INFINITY else 0.0
        return GridState(lines, k0, 0, first.amount / (n - k0), value,
                         first.amount * first.price * n / (n - k0), 1)

    @staticmethod
    def _apply(st: GridState, o: Any, k: int, s: int) -> tuple[int, int]:
        """One more filled order: a sell frees its lines, a buy takes them, a buy far
        above the next buy line (at the top) is a trailing-up step."""
        if st.lines.kind == INFINITY:
            m = max(1, round(o.amount * o.price / st.value))
        else:
            m = max(1, round(o.amount / st.lot))
        if not o.is_entry:
            return k + m, s
        if st.lines.kind != INFINITY and o.price > st.lines.line(k):
            return k, s + 1
        return k - m, s

    def _signature(self) -> tuple[Any, ...]:
        return (self.grid_type, self.levels, self.lower_pct, self.upper_pct)

    # ------------------------------------------------------------ decisions
    def decide(self, trade: Any, rate: float, max_stake: float = math.inf
               ) -> tuple[float, str, float] | None:
        """(stake, tag, limit price) at the candle open `rate`: stake < 0 sells that
        share of the position's stake, > 0 buys; None: nothing to do."""
        st = self.state(trade)
        ln, k, s, n = st.lines, st.k, st.s, int(self.levels)
        kind = str(self.grid_type)
        if rate <= ln.line(s) * (1 - float(self.stop_below)):
            return -trade.stake_amount, "grid_stop_loss", rate
        pnl = trade.realized_profit + trade.calc_profit_ratio(rate) * trade.open_trade_value
        if pnl >= float(self.take_profit) * st.investment:
            return -trade.stake_amount, "grid_take_profit", rate
        top = math.inf if kind == INFINITY else s + n
        # sells: every line above the empty one that the open reached
        m = 0
        while k + m + 1 <= top and ln.line(k + m + 1) <= rate:
            m += 1
        if m:
            if kind == INFINITY:
                amount = m * st.value / rate
                if amount >= trade.amount:
                    return None
                return -amount * trade.stake_amount / trade.amount, "grid_sell", rate
            held = s + n - k
            if m < held:
                return -trade.stake_amount * m / held, "grid_sell", rate
            if not bool(self.trailing_up):
                return -trade.stake_amount, "grid_above_range", rate
            if held > 1:  # keep one lot for the trailing step
                return -trade.stake_amount * (held - 1) / held, "grid_sell", rate
            stake = st.lot * rate
            return (stake, "grid_trail", rate) if stake <= max_stake else None
        # buys: the next line below (a limit), or every crossed one at the open
        if k - 1 < s:
            return None
        below = ln.line(k - 1)
        m, price = 1, below
        if rate <= below:
            price = rate
            while k - m - 1 >= s and ln.line(k - m - 1) >= rate:
                m += 1
        stake = m * (st.value if kind == INFINITY else st.lot * price)
        return (stake, "grid_buy", price) if stake <= max_stake else None

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, min_stake: float | None,
                              max_stake: float, current_entry_rate: float,
                              current_exit_rate: float, current_entry_profit: float,
                              current_exit_profit: float, **kwargs: Any) -> Any:
        d = self.decide(trade, current_rate, max_stake)
        return None if d is None else (d[0], d[1])

    def custom_entry_price(self, pair: str, trade: Any, current_time: Any,
                           proposed_rate: float, entry_tag: str | None, side: str,
                           **kwargs: Any) -> float:
        if trade is None or not trade.nr_of_successful_entries:
            return proposed_rate  # the grid's start: at the open
        d = self.decide(trade, proposed_rate)
        return proposed_rate if d is None or d[0] <= 0 else min(d[2], proposed_rate)
