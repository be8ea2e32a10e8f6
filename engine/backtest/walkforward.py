"""Walk-forward and out-of-sample validation.

`split_candles` cuts every pair at the same time so in-sample and out-of-sample windows
never overlap. `walk_forward` rolls an (optimise on train, test on the following
window) scheme over the data: for each fold, `run_hyperopt` picks parameters on the
training window only, and those parameters are backtested on the next, unseen window.
Indicators on a test window warm up from the window's own first candle (no candles
from before it are used), and parameters are chosen on the training window alone, so
nothing from a test window leaks into the choice of its parameters. News (``news=``,
``news_delay_s=``, ``agg=``) reaches the search and the backtests alike, point in time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.backtest.splits import out_of_sample, span, split_candles
from engine.data.candles import Candles
from engine.errors import DataError
from engine.strategy.interface import Strategy

__all__ = ["out_of_sample", "split_candles", "walk_forward"]


def walk_forward(
    candles: dict[str, Candles],
    strategy: str | Strategy,
    *,
    folds: int = 4,
    train_fraction: float = 0.6,
    epochs: int = 50,
    loss: str = "sharpe",
    seed: int = 0,
    **bt: Any,
) -> dict[str, Any]:
    """Rolling train/test folds; returns per-fold chosen params, in- and out-of-sample
    metrics, and the out-of-sample profit summed over folds."""
    from engine.backtest.hyperopt import run_hyperopt
    from engine.backtest.runner import run_backtest

    if folds < 1:
        raise ValueError("folds must be at least 1")
    t0, t1 = span(candles)
    # windows: train covers train_fraction of (train+test); folds slide by one test window
    test_len = (t1 - t0) / (folds + train_fraction / (1 - train_fraction))
    train_len = test_len * train_fraction / (1 - train_fraction)
    keys = ("stake", "fee", "stoploss", "wallet", "news", "news_delay_s", "agg", "min_trades")
    hp = {k: v for k, v in bt.items() if k in keys}
    bt = {k: v for k, v in bt.items() if k != "min_trades"}
    out: list[dict[str, Any]] = []
    for f in range(folds):
        a = int(t0 + f * test_len)
        b = int(a + train_len)
        c = int(b + test_len) if f < folds - 1 else t1
        train = {s: x.between(a, b) for s, x in candles.items()}
        test = {s: x.between(b, c) for s, x in candles.items()}
        train = {s: x for s, x in train.items() if len(x)}
        test = {s: x for s, x in test.items() if len(x)}
        if not train or not test:
            raise DataError(f"fold {f}: empty window; use fewer folds")
        res = run_hyperopt(train, strategy, epochs=epochs, loss=loss, seed=seed + f, **hp)
        params = dict(res["best"]["params"])
        sl = params.pop("stoploss", bt.get("stoploss"))
        kw = {k: v for k, v in bt.items() if k != "stoploss"}
        ins = run_backtest(train, _fresh(strategy), params=params, stoploss=sl, **kw).metrics
        oos = run_backtest(test, _fresh(strategy), params=params, stoploss=sl, **kw).metrics
        out.append(
            {
                "fold": f,
                "train": [a, b],
                "test": [b, c],
                "params": res["best"]["params"],
                "in_sample": {
                    k: ins[k]
                    for k in ("profit_total", "sharpe", "max_drawdown_account", "total_trades")
                },
                "out_of_sample": {
                    k: oos[k]
                    for k in ("profit_total", "sharpe", "max_drawdown_account", "total_trades")
                },
            }
        )
    oos_profit = float(np.sum([f["out_of_sample"]["profit_total"] for f in out]))
    return {"folds": out, "out_of_sample_profit_total": oos_profit}


def _fresh(strategy: str | Strategy) -> str | Strategy:
    """A name as is; an instance cloned, so one fold's parameters never leak into the next."""
    if isinstance(strategy, str):
        return strategy
    from engine.backtest.batch import clone

    return clone(strategy)
