"""Hyperopt runs on the grid's and the DCA bot's parameters (order-level backtest per
trial): a few trials on constructed candles, in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.backtest.hyperopt import run_hyperopt
from engine.strategy import get_strategy
from tests.backtest.helpers import candles


@pytest.mark.parametrize("name", ["grid", "dca_bot"])
def test_hyperopt_tunes_the_family(name: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    i = np.arange(800)
    close = 100 * (1 + 0.05 * np.sin(i / 40)) * np.exp(rng.normal(0, 0.003, i.size))
    o = np.concatenate([[100.0], close[:-1]])
    c = candles("X/USDT", list(o), h=list(np.maximum(o, close) * 1.002),
                lo=list(np.minimum(o, close) * 0.998), c=list(close))
    out = run_hyperopt({"X/USDT": c}, name, epochs=4, batch=2, seed=1, stake=1000.0,
                       wallet=10_000.0, loss="profitdrawdown")
    assert out["trials"] == 4 and out["evaluator"] == "single"
    declared = {k for k, p in get_strategy(name).parameters().items() if p.optimize}
    assert set(out["best"]["params"]) == declared
    assert out["best"]["metrics"]["total_trades"] >= 1
    assert not list(tmp_path.rglob("*.json"))  # nothing written by the search itself
