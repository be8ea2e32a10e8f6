"""The parallel multi-pair / multi-strategy backtest returns exactly the serial runs."""

from __future__ import annotations

import pytest

from engine.backtest import parallel
from engine.backtest._paths import shared_data
from engine.backtest.parallel import Common, plan, run_many, summary_rows

TESTDATA = shared_data() / "ohlcv" / "freqtrade_testdata"
PAIRS = ["ETH/BTC", "LTC/BTC", "ADA/BTC"]


def test_plan_is_strategy_major() -> None:
    assert [(j.strategy, j.pairs) for j in plan(["a", "b"], ["X/Y", "Z/Y"], True)] == [
        ("a", ("X/Y",)), ("a", ("Z/Y",)), ("b", ("X/Y",)), ("b", ("Z/Y",))]
    assert [j.pairs for j in plan(["a"], ["X/Y", "Z/Y"], False)] == [("X/Y", "Z/Y")]
    with pytest.raises(ValueError, match="no strategy"):
        plan([], ["X/Y"], False)


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared data not found")
@pytest.mark.parametrize("fork", [True, False])
def test_pool_equals_serial(fork: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_fork_safe", lambda: fork)  # both ways a pool starts
    common = Common(TESTDATA, "5m", end_ms=1_515_560_100_000 + 6 * 86_400_000,
                    options={"stake": 0.05, "wallet": 10.0})
    jobs = plan(["ema_rsi_cross", "ema_rsi_trail"], PAIRS, each_pair=True)
    jobs += plan(["ema_rsi_cross"], PAIRS, each_pair=False)  # one joint portfolio run
    pooled = run_many(common, jobs, processes=2)
    serial = run_many(common, jobs, processes=1)
    assert [(r.strategy, r.pairs) for r in pooled] == [(j.strategy, list(j.pairs)) for j in jobs]
    assert sum(len(r.trades) for r in serial) > 20
    for a, b in zip(serial, pooled, strict=True):
        assert a.trades.rows() == b.trades.rows()
        assert {k: v for k, v in a.metrics.items()} == b.metrics
    assert summary_rows(pooled) == summary_rows(serial)
