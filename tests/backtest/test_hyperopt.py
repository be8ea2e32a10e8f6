"""Hyperopt: batched numba evaluation equals single runs; Optuna loop smoke tests.

The batch rounds each profit to 8 places in float, without the Decimal tie fix-up of
exported trades, so sums may differ by 1e-8 per tie (hence abs=1e-7)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.backtest import run_backtest
from engine.backtest.hyperopt import STAT_NAMES, BatchEvaluator, HyperoptError, run_hyperopt
from engine.data.candles import Candles

SETS = [
    {"fast": 12, "slow": 26, "rsi_period": 14, "rsi_max": 70.0},
    {"fast": 7, "slow": 40, "rsi_period": 9, "rsi_max": 55.5, "stoploss": -0.03},
    {"fast": 20, "slow": 21, "rsi_period": 21, "rsi_max": 85.0, "stoploss": -0.2},
]


def test_batched_evaluation_equals_single_runs(testdata: dict[str, Candles]) -> None:
    ev = BatchEvaluator(testdata, stake=0.05, fee=0.001, wallet=1.0)
    rows = ev.evaluate([dict(s) for s in SETS], default_stoploss=-0.10)
    for s, row in zip(SETS, rows, strict=True):
        p = dict(s)
        sl = p.pop("stoploss", -0.10)
        m = run_backtest(
            testdata, "ema_rsi_cross", params=p, stake=0.05, fee=0.001, stoploss=sl, wallet=1.0
        ).metrics
        assert m["total_trades"] > 0
        for name, value in zip(STAT_NAMES, row, strict=True):
            assert value == pytest.approx(m[name], rel=1e-6, abs=1e-7), (s, name)


def test_hyperopt_smoke_with_rdb_storage(testdata: dict[str, Candles], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    small = {k: v for k, v in list(testdata.items())[:3]}
    seen: list[int] = []
    res = run_hyperopt(
        small,
        "ema_rsi_cross",
        epochs=12,
        batch=5,
        storage=url,
        study_name="s1",
        seed=1,
        stake=0.05,
        wallet=1.0,
        on_progress=seen.append,
    )
    assert res["trials"] == 12 and seen == [5, 10, 12]
    assert set(res["best"]["params"]) == {"fast", "slow", "rsi_period", "rsi_max"}
    # a second worker joins the same study through the storage
    res2 = run_hyperopt(
        small,
        "ema_rsi_cross",
        epochs=4,
        batch=4,
        storage=url,
        study_name="s1",
        seed=2,
        stake=0.05,
        wallet=1.0,
    )
    import optuna

    assert len(optuna.load_study(study_name="s1", storage=url).trials) == 16
    assert res2["best"]["loss"] <= res["best"]["loss"]


@pytest.mark.parametrize(
    "sampler,loss",
    [
        ("qmc", "calmar"),
        ("nsga2", "multi"),
        ("tpe", "profitdrawdown"),
        ("cmaes", "sortino"),
        ("gp", "maxdrawdown"),
    ],
)
def test_samplers_and_losses(testdata: dict[str, Candles], sampler: str, loss: str) -> None:
    small = {k: v for k, v in list(testdata.items())[:2]}
    deps = {"qmc": ["scipy"], "cmaes": ["cmaes"], "gp": ["scipy", "torch"]}.get(sampler, [])
    if any(importlib.util.find_spec(d) is None for d in deps):
        with pytest.raises(HyperoptError, match="needs the package"):
            run_hyperopt(small, "ema_rsi_cross", epochs=1, sampler=sampler, loss=loss)
        return
    res = run_hyperopt(
        small,
        "ema_rsi_cross",
        epochs=6,
        batch=3,
        sampler=sampler,
        loss=loss,
        seed=0,
        stake=0.05,
        wallet=1.0,
    )
    assert res["trials"] == 6


def test_any_strategy_is_batched_and_bad_storage(testdata: dict[str, Candles]) -> None:
    small = {k: v for k, v in list(testdata.items())[:1]}
    res = run_hyperopt(
        small, "sentiment_momentum", epochs=2, batch=2, seed=0, stake=0.05, wallet=1.0
    )
    assert res["batched"] is True and res["evaluator"] == "frames" and res["trials"] == 2
    with pytest.raises(HyperoptError, match="cannot open study"):
        run_hyperopt(small, "ema_rsi_cross", epochs=1, storage="nosuchdb://x", study_name="a")


def test_order_strategies_hyperopt_through_the_order_backtest(
        testdata: dict[str, Candles]) -> None:
    """Limit orders and position adjustment exist only in the order-level backtest: such
    a strategy is never scored by the market-order kernel."""
    small = {k: v for k, v in list(testdata.items())[:1]}
    res = run_hyperopt(small, "ema_rsi_dca", epochs=2, batch=2, seed=0, stake=0.05,
                       wallet=1.0)
    assert res["evaluator"] == "single" and res["batched"] is False and res["trials"] == 2
