"""The 3Commas-style DCA bot (`dca_bot`) on Freqtrade's order hooks.

A deal is one trade: the base order at the start signal, then safety orders (SO) below
the base order's price. SO i sits at the deviation ``d x (1 + ss + ... + ss^(i-1))``
(``deviation``, step scale ``ss``) and costs the base order x ``safety_ratio`` x
``volume_scale^(i-1)``. The stake of a deal is its whole budget: the base order is the
stake divided by the deal's largest size, so a deal that used every SO spent exactly the
stake. Take profit on the averaged position is Freqtrade's ROI on the trade (the trade's
open rate is the average of its entries; the exit fills at the take-profit price inside
the candle, after fees); the trailing take-profit is Freqtrade's trailing stop armed at
the take-profit (``trailing_stop_positive_offset``) at ``trailing_deviation`` below the
high. The stop-loss is Freqtrade's, from the base order's price.

Start conditions: ``rsi`` (RSI below ``rsi_max``), ``sentiment`` (the frame's
``sentiment`` column at or above ``sentiment_min``) or ``immediately`` (a new deal on
the candle after the last one closed).

One resting order per pair: the next SO rests as a limit at its price; when a candle
opens below one or more SO prices, up to ``max_active_safety_orders`` of them are bought
together at the open (3Commas keeps that many SOs on the book; a gap fills them all).
The deal's state (base price and size, SOs filled) comes from its filled orders.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.strategy.interface import (
    BooleanParameter,
    CategoricalParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
    StrategyError,
)


class DcaBot(Strategy):
    """Base order + safety orders + take profit on the average (module docstring)."""

    name = "dca_bot"
    timeframe = "5m"
    stoploss = -0.30
    use_exit_signal = False
    position_adjustment_enable = True
    max_entry_position_adjustment = -1  # the SO count is the strategy's own
    startup_candle_count = 30
    order_types: ClassVar[dict[str, Any]] = {
        "entry": "limit", "exit": "market", "stoploss": "market",
        "stoploss_on_exchange": False}

    start = CategoricalParameter(["rsi", "sentiment", "immediately"], default="rsi",
                                 space="buy")
    rsi_max = DecimalParameter(10.0, 60.0, default=30.0, decimals=1, space="buy")
    sentiment_min = DecimalParameter(-0.5, 0.9, default=0.2, decimals=2, space="buy")
    deviation = DecimalParameter(0.005, 0.05, default=0.015, decimals=3, space="buy")
    step_scale = DecimalParameter(1.0, 2.0, default=1.2, decimals=2, space="buy")
    volume_scale = DecimalParameter(1.0, 2.5, default=1.2, decimals=2, space="buy")
    safety_ratio = DecimalParameter(0.5, 3.0, default=1.0, decimals=2, space="buy")
    max_safety_orders = IntParameter(1, 10, default=5, space="buy")
    max_active_safety_orders = IntParameter(1, 5, default=2, space="buy")
    take_profit = DecimalParameter(0.005, 0.05, default=0.015, decimals=3, space="sell")
    trailing_tp = BooleanParameter(default=False, space="sell")
    trailing_deviation = DecimalParameter(0.002, 0.02, default=0.005, decimals=3,
                                          space="sell")

    # the take profit and its trailing follow the parameters (Freqtrade reads these);
    # setting them directly would silently disagree with the parameters: refused
    def _derived(self, value: Any) -> None:
        raise StrategyError(f"{self.name}: the take profit and its trailing come from the "
                            "parameters take_profit, trailing_tp and trailing_deviation: "
                            "set those instead")

    @property
    def minimal_roi(self) -> dict[int, float]:
        return {} if bool(self.trailing_tp) else {0: float(self.take_profit)}

    @minimal_roi.setter
    def minimal_roi(self, value: Any) -> None:
        self._derived(value)

    @property
    def trailing_stop(self) -> bool:
        return bool(self.trailing_tp)

    @trailing_stop.setter
    def trailing_stop(self, value: Any) -> None:
        self._derived(value)

    @property
    def trailing_stop_positive(self) -> float | None:
        return float(self.trailing_deviation) if bool(self.trailing_tp) else None

    @trailing_stop_positive.setter
    def trailing_stop_positive(self, value: Any) -> None:
        self._derived(value)

    @property
    def trailing_stop_positive_offset(self) -> float:
        return float(self.take_profit) if bool(self.trailing_tp) else 0.0

    @trailing_stop_positive_offset.setter
    def trailing_stop_positive_offset(self, value: Any) -> None:
        self._derived(value)

    @property
    def trailing_only_offset_is_reached(self) -> bool:
        return bool(self.trailing_tp)

    @trailing_only_offset_is_reached.setter
    def trailing_only_offset_is_reached(self, value: Any) -> None:
        self._derived(value)

    # ------------------------------------------------------------ the ladder
    def so_deviation(self, i: int) -> float:
        """Deviation of safety order ``i`` (1-based) from the base order's price."""
        d, ss = float(self.deviation), float(self.step_scale)
        return d * sum(ss**m for m in range(i))

    def so_size(self, i: int) -> float:
        """Safety order ``i``'s stake as a multiple of the base order's."""
        return float(self.safety_ratio) * float(self.volume_scale) ** (i - 1)

    def deal_size(self) -> float:
        """The largest deal as a multiple of the base order (all SOs filled)."""
        return 1.0 + sum(self.so_size(i) for i in range(1, int(self.max_safety_orders) + 1))

    # ------------------------------------------------------------ signals
    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import rsi

        frame["rsi"] = rsi(frame["close"], 14)
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        with np.errstate(invalid="ignore"):
            if self.start == "rsi":
                ok = np.asarray(frame["rsi"]) < float(self.rsi_max)
            elif self.start == "sentiment":
                ok = np.asarray(frame["sentiment"], dtype=np.float64) >= float(
                    self.sentiment_min)
            else:
                ok = np.ones(frame.n, dtype=np.bool_)
        frame["enter_long"] = ok & (frame["volume"] > 0)
        frame["stake_scale"] = np.full(frame.n, 1.0 / self.deal_size())
        frame["enter_tag"] = f"dca_{self.start}"
        return frame

    # ------------------------------------------------------------ safety orders
    def filled_safety_orders(self, trade: Any) -> int:
        """How many SOs the deal's filled entries hold (a gap buys several in one
        order: matched by their cumulative stake)."""
        entries = [o for o in trade.orders if o.filled and o.is_entry]
        base = entries[0].amount * entries[0].price
        spent = sum(o.amount * o.price for o in entries[1:]) / base
        j, cum = 0, 0.0
        while j < int(self.max_safety_orders) and cum + self.so_size(j + 1) <= spent * (
                1 + 1e-6) + 1e-9:
            j += 1
            cum += self.so_size(j)
        return j

    def next_buy(self, trade: Any, rate: float) -> tuple[float, float] | None:
        """(stake, price) of the next safety order(s) at the open `rate`, or None."""
        entries = [o for o in trade.orders if o.filled and o.is_entry]
        base_price, base = entries[0].price, entries[0].amount * entries[0].price
        j, n = self.filled_safety_orders(trade), int(self.max_safety_orders)
        if j >= n:
            return None
        price = base_price * (1 - self.so_deviation(j + 1))
        if rate > price:
            return base * self.so_size(j + 1), price
        m = 1
        while (j + m < n and m < int(self.max_active_safety_orders)
               and base_price * (1 - self.so_deviation(j + m + 1)) >= rate):
            m += 1
        return base * sum(self.so_size(i) for i in range(j + 1, j + m + 1)), rate

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, min_stake: float | None,
                              max_stake: float, current_entry_rate: float,
                              current_exit_rate: float, current_entry_profit: float,
                              current_exit_profit: float, **kwargs: Any) -> Any:
        nb = self.next_buy(trade, current_rate)
        if nb is None:
            return None
        stake, price = nb
        if trade.has_open_orders and current_rate > price:
            return None  # the SO rests on the book
        if stake > max_stake:
            return None  # not enough quote left: 3Commas' order would fail too
        return stake, "safety_order"

    def custom_entry_price(self, pair: str, trade: Any, current_time: Any,
                           proposed_rate: float, entry_tag: str | None, side: str,
                           **kwargs: Any) -> float:
        if trade is None or not trade.nr_of_successful_entries:
            return proposed_rate  # the base order: at the open
        nb = self.next_buy(trade, proposed_rate)
        return proposed_rate if nb is None else min(nb[1], proposed_rate)

