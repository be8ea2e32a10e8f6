"""Walk-forward and out-of-sample validation.

`split_candles` cuts every pair at the same time so in-sample and out-of-sample windows
never overlap. `walk_forward` rolls an (optimise on train, test on the following
window) scheme over the data: for each fold, `run_hyperopt` picks parameters on the
training window only, and those parameters are backtested on the next, unseen window.
Indicators on a test window warm up from the window's own first candle (no candles
from before it are used), and parameters are chosen on the training window alone, so
nothing from a test window leaks into the choice of its parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.candles import Candles
from engine.errors import DataError


def _span(candles: dict[str, Candles]) -> tuple[int, int]:
    return (
        min(int(c.open_time[0]) for c in candles.values()),
        max(int(c.open_time[-1]) for c in candles.values()) + 1,
    )


def split_candles(
    candles: dict[str, Candles], at_ms: int
) -> tuple[dict[str, Candles], dict[str, Candles]]:
    """(before, from) ``at_ms`` for every pair; pairs empty on one side are dropped there."""
    a = {s: c.between(None, at_ms) for s, c in candles.items()}
    b = {s: c.between(at_ms, None) for s, c in candles.items()}
    return {s: c for s, c in a.items() if len(c)}, {s: c for s, c in b.items() if len(c)}


def out_of_sample(
    candles: dict[str, Candles], fraction: float = 0.3
) -> tuple[dict[str, Candles], dict[str, Candles]]:
    """In-sample = the first (1 - fraction) of the time span, out-of-sample = the rest."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    t0, t1 = _span(candles)
    return split_candles(candles, int(t0 + (t1 - t0) * (1.0 - fraction)))


def walk_forward(
    candles: dict[str, Candles],
    strategy: str,
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
    t0, t1 = _span(candles)
    # windows: train covers train_fraction of (train+test); folds slide by one test window
    test_len = (t1 - t0) / (folds + train_fraction / (1 - train_fraction))
    train_len = test_len * train_fraction / (1 - train_fraction)
    keys = ("stake", "fee", "stoploss", "wallet")
    hp = {k: v for k, v in bt.items() if k in keys}
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
        ins = run_backtest(train, strategy, params=params, stoploss=sl, **kw).metrics
        oos = run_backtest(test, strategy, params=params, stoploss=sl, **kw).metrics
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
