"""The order-level backtest on scripted candles: limit fills, time-outs, caps, position
adjustment and its accounting."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from engine.backtest import run_backtest
from engine.strategy.interface import StrategyError
from tests.backtest.helpers import STEP, T0, Scripted, candles


class LimitScripted(Scripted):
    order_types: ClassVar[dict[str, Any]] = {"entry": "limit", "exit": "limit"}
    unfilledtimeout: ClassVar[dict[str, Any]] = {"entry": 10, "unit": "minutes"}
    discount = 0.99

    def custom_entry_price(self, pair: str, trade: Any, current_time: Any,
                           proposed_rate: float, entry_tag: str | None, side: str,
                           **kwargs: Any) -> float:
        return proposed_rate * self.discount


def _run(strat: Any, c: Any, **kw: Any) -> Any:
    return run_backtest({"X/USDT": c}, strat, stake=100.0, fee=0.0, wallet=10_000.0, **kw)


def test_limit_entry_fills_on_a_later_candle_within_the_timeout() -> None:
    # signal on 0 -> order at open[1] * 0.99 = 99.0; candle 1 stays above, 2 reaches it
    c = candles("X/USDT", [100, 100, 100, 100, 100, 100],
                h=[100, 101, 101, 101, 101, 101], lo=[100, 99.5, 98.5, 99.5, 99.5, 99.5])
    res = _run(LimitScripted({"X/USDT": {"enter_long": [0], "exit_long": [3]}}), c)
    assert len(res.trades) == 1
    assert res.trades.open_ms[0] == T0 + STEP  # Freqtrade: the trade opens when placed
    entry, exit_ = res.orders
    assert entry["price"] == 99.0 and entry["filled_time"] == "2024-01-01T00:10:00Z"
    assert exit_["price"] == 100.0 and exit_["tag"] == "exit_signal"


def test_limit_entry_times_out_and_a_new_signal_enters_again() -> None:
    # order at 99 placed on 1 lives on 1 and 2 (10 minutes), cancelled on 3 unfilled
    lows = [100, 99.5, 99.5, 98.0, 99.5, 98.0, 99.5, 99.5]
    c = candles("X/USDT", [100] * 8, h=[101] * 8, lo=lows)
    res = _run(LimitScripted({"X/USDT": {"enter_long": [0, 4], "exit_long": [6]}}), c)
    assert len(res.trades) == 1
    assert res.trades.open_ms[0] == T0 + 5 * STEP
    assert res.orders[0]["filled_time"].endswith("00:25:00Z")


def test_limit_price_is_capped_at_the_high_and_rounded_to_the_step() -> None:
    strat = LimitScripted({"X/USDT": {"enter_long": [0], "exit_long": [2]}})
    strat.discount = 1.5  # above the candle: Freqtrade caps it at the high
    c = candles("X/USDT", [1.2345, 1.2345, 1.2345, 1.2345],
                h=[1.2345, 1.2501, 1.25, 1.25], lo=[1.2, 1.2, 1.2, 1.2])
    res = _run(strat, c)
    assert res.orders[0]["price"] == 1.2501
    strat.discount = 0.99991  # 1.23438889 -> the month's step is 1e-4 -> 1.2344
    res = _run(strat, c)
    assert res.orders[0]["price"] == 1.2344


class Dca(Scripted):
    position_adjustment_enable = True
    max_entry_position_adjustment = 1
    stoploss = -0.5

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, *args: Any, **kwargs: Any) -> Any:
        if current_profit < -0.05:
            return 100.0, "dip"
        if current_profit > 0.05 and trade.nr_of_successful_exits == 0:
            return -(trade.stake_amount / 2), "half"
        return None


def test_position_adjustment_limits_entries_and_accounts_like_freqtrade() -> None:
    # entry 100 on 1; opens at 90 (2) and 80 (3): only ONE extra entry allowed;
    # at 120 (4) sell half; exit signal -> sell the rest at open[6] = 110
    c = candles("X/USDT", [100, 100, 90, 80, 120, 110, 110])
    res = _run(Dca({"X/USDT": {"enter_long": [0], "exit_long": [5]}}), c)
    tags = [(o["tag"], o["price"]) for o in res.orders]
    assert tags == [("", 100.0), ("dip", 90.0), ("half", 120.0), ("exit_signal", 110.0)]
    t = res.trades.rows()[0]
    amount = 1.0 + 100 / 90
    avg = 200 / amount
    assert abs(t["open_rate"] - round(avg, 12)) < 1e-9
    half = amount / 2
    want = round(half * (120 - avg), 8) + round(half * (110 - avg), 8)
    assert abs(t["profit_abs"] - want) < 1e-8
    assert abs(t["profit_ratio"] - want / 200) < 1e-12


def test_unfilled_entry_at_the_end_is_no_trade_and_shorts_are_refused() -> None:
    c = candles("X/USDT", [100, 100, 100], h=[101] * 3, lo=[100] * 3)
    res = _run(LimitScripted({"X/USDT": {"enter_long": [0]}}), c)
    assert len(res.trades) == 0 and res.orders == []

    class Short(LimitScripted):
        can_short = True

    with pytest.raises(StrategyError, match="short"):
        _run(Short({"X/USDT": {"enter_short": [0]}}), c)


def test_live_runtime_says_what_it_does_differently() -> None:
    """Limit orders, time-outs and position adjustment run live now: the built-ins have
    no gap left; a strategy mixing limit entries and DCA is told the one that stays."""
    from engine.strategy.registry import get_strategy
    from engine.strategy.runtime import StrategyRuntime

    for name in ("ema_rsi_cross", "ema_rsi_trail", "ema_rsi_dca"):
        assert StrategyRuntime(get_strategy(name), "5m").order_gaps == [], name

    class LimitDca(type(get_strategy("ema_rsi_dca"))):  # type: ignore[misc]
        order_types = {"entry": "limit", "exit": "market"}  # noqa: RUF012

    gaps = StrategyRuntime(LimitDca(), "5m").order_gaps
    assert len(gaps) == 1 and "adjust_trade_position" in gaps[0]
