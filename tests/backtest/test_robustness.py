"""Monte Carlo properties; walk-forward and out-of-sample splits."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.backtest.montecarlo import monte_carlo
from engine.backtest.walkforward import out_of_sample, split_candles, walk_forward
from engine.data.candles import Candles


@pytest.fixture(scope="module")
def result(testdata: dict[str, Candles]):  # type: ignore[no-untyped-def]
    return run_backtest(testdata, "ema_rsi_cross", stake=0.05, fee=0.001, stoploss=-0.1, wallet=1.0)


def test_shuffle_keeps_total_return_and_spreads_drawdown(result) -> None:  # type: ignore[no-untyped-def]
    mc = monte_carlo(result, scenarios=300, seed=1)
    ret = mc["return"]
    assert ret["p5"] == pytest.approx(ret["p95"], abs=1e-12)
    assert ret["p50"] == pytest.approx(result.metrics["profit_total"], abs=1e-9)
    dd = mc["max_drawdown"]
    assert dd["p5"] <= dd["p25"] <= dd["p50"] <= dd["p75"] <= dd["p95"]
    assert dd["p95"] > dd["p5"]


def test_noise_widens_returns_and_seed_reproduces(result) -> None:  # type: ignore[no-untyped-def]
    a = monte_carlo(result, scenarios=200, noise=0.01, seed=7)
    b = monte_carlo(result, scenarios=200, noise=0.01, seed=7)
    assert a == b
    assert a["return"]["p95"] - a["return"]["p5"] > 0.01
    for k in ("return", "max_drawdown", "sharpe", "calmar"):
        v = [a[k][f"p{p}"] for p in (5, 25, 50, 75, 95)]
        assert v == sorted(v)


def test_bad_arguments(result) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        monte_carlo(result, scenarios=0)
    with pytest.raises(ValueError):
        monte_carlo(result, noise=-1)


def test_splits_do_not_overlap(testdata: dict[str, Candles]) -> None:
    ins, oos = out_of_sample(testdata, 0.25)
    for s in oos:
        assert ins[s].open_time[-1] < oos[s].open_time[0]
    total = sum(len(c) for c in testdata.values())
    assert sum(len(c) for c in ins.values()) + sum(len(c) for c in oos.values()) == total
    a, _b = split_candles(testdata, int(testdata["ETH/BTC"].open_time[100]))
    assert len(a["ETH/BTC"]) == 100


def test_walk_forward_folds(testdata: dict[str, Candles]) -> None:
    small = {k: v for k, v in list(testdata.items())[:3]}
    wf = walk_forward(
        small, "ema_rsi_cross", folds=2, epochs=4, stake=0.05, fee=0.001, stoploss=-0.1, wallet=1.0
    )
    f0, f1 = wf["folds"]
    assert f0["train"][1] == f0["test"][0] and f0["test"][0] < f1["test"][0]
    assert f1["test"][0] >= f0["test"][1] - 1
    assert wf["out_of_sample_profit_total"] == pytest.approx(
        f0["out_of_sample"]["profit_total"] + f1["out_of_sample"]["profit_total"]
    )
    assert np.isfinite(wf["out_of_sample_profit_total"])
