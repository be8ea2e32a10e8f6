"""The Freqtrade-style interface: registry, parameters, safe wrapper."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.strategy import (
    CategoricalParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
    StrategyError,
    crossed_above,
    get_strategy,
    shift,
    strategy_names,
)
from tests.backtest.helpers import candles


def test_registry_and_unknown_name() -> None:
    assert {"ema_rsi_cross", "sentiment_momentum"} <= set(strategy_names())
    with pytest.raises(StrategyError, match="unknown strategy 'nope'"):
        get_strategy("nope")


def test_parameters_have_spaces_and_instance_values() -> None:
    s = get_strategy("ema_rsi_cross")
    params = s.parameters()
    assert params["fast"].space == "buy" and params["fast"].low == 5
    s.set_params(fast=8)
    assert s.fast == 8 and get_strategy("ema_rsi_cross").fast == 12
    with pytest.raises(StrategyError, match="unknown parameter"):
        s.set_params(nope=1)
    with pytest.raises(ValueError):
        IntParameter(1, 5, default=9)
    with pytest.raises(ValueError):
        CategoricalParameter(["a"])
    assert DecimalParameter(0.0, 1.0, default=0.5).kind == "decimal"


def test_user_code_errors_become_strategy_error() -> None:
    class Broken(Strategy):
        name = "broken"

        def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
            raise ZeroDivisionError("oops")

    with pytest.raises(
        StrategyError, match=r"broken.populate_indicators failed: ZeroDivisionError"
    ):
        run_backtest({"A/B": candles("A/B", [1.0] * 10)}, Broken())


def test_bad_signal_shape_is_reported() -> None:
    class BadShape(Strategy):
        name = "badshape"

        def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
            frame["enter_long"] = np.zeros(3, dtype=bool)
            return frame

    with pytest.raises(StrategyError, match="enter_long"):
        run_backtest({"A/B": candles("A/B", [1.0] * 10)}, BadShape())


def test_helpers() -> None:
    assert np.isnan(shift([1, 2, 3])[0]) and shift([1, 2, 3])[2] == 2
    assert crossed_above([1, 3, 1, 3], [2, 2, 2, 2]).tolist() == [False, True, False, True]
