"""Portfolio rebalancing: the legs on constructed baskets (targets, sells before buys,
fees, dust), the portfolio backtest's periodic and drift rules on constructed candles,
and `sentitrade backtest --strategy rebalance`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from engine.backtest.rebalance import run_rebalance
from engine.data.candles import Candles
from engine.portfolio.rebalance import (
    Leg,
    apply_legs,
    drift,
    plan_rebalance,
    target_weights,
)
from tests.backtest.clidata import T0, invoke, json_of, one_line_error, write_csv

DAY = 86_400_000
STEP = 300_000


def test_targets_are_one_over_n_or_checked_weights() -> None:
    assert target_weights(["A", "B", "C", "D"]) == {s: 0.25 for s in "ABCD"}
    assert target_weights(["A", "B"], {"A": 0.3, "B": 0.5}) == {"A": 0.3, "B": 0.5}
    assert target_weights(["A", "B"], {"A": 3, "B": 1}) == {"A": 0.75, "B": 0.25}
    with pytest.raises(ValueError, match="outside the basket"):
        target_weights(["A"], {"Z": 1.0})
    with pytest.raises(ValueError, match="negative"):
        target_weights(["A", "B"], {"A": -1.0, "B": 1.0})


def test_sells_pay_for_buys_with_the_fees_counted() -> None:
    legs = plan_rebalance({"A": 1.0}, 0.0, {"A": 100.0, "B": 50.0}, {"A": 0.5, "B": 0.5},
                          fee=0.001, min_trade=1.0)
    sell, buy = legs
    assert (sell.symbol, sell.side, sell.amount) == ("A", "sell", 0.5)
    # the sale brings 50 x 0.999; the buy costs notional x 1.001: scaled to fit
    assert buy.side == "buy" and buy.notional == pytest.approx(50 * 0.999 / 1.001)
    h = {"A": 1.0}
    cash, fees = apply_legs(h, 0.0, legs, 0.001)
    assert cash == pytest.approx(0.0, abs=1e-9) and cash > -1e-9
    assert fees == pytest.approx(0.05 + buy.notional * 0.001)
    assert h["B"] == pytest.approx(buy.notional / 50.0)


def test_dust_legs_are_skipped_and_drift_is_the_largest_gap() -> None:
    prices = {"A": 100.0, "B": 100.0}
    h = {"A": 5.04, "B": 4.96}  # weights 0.504 / 0.496 of 1000
    assert drift(h, 0.0, prices, {"A": 0.5, "B": 0.5}) == pytest.approx(0.004)
    assert plan_rebalance(h, 0.0, prices, {"A": 0.5, "B": 0.5}, min_trade=10.0) == []
    legs = plan_rebalance(h, 0.0, prices, {"A": 0.5, "B": 0.5}, fee=0.0, min_trade=1.0)
    assert legs == [Leg("A", "sell", pytest.approx(0.04), 100.0),  # type: ignore[arg-type]
                    Leg("B", "buy", pytest.approx(0.04), 100.0)]  # type: ignore[arg-type]


def _basket(b_prices: Sequence[float], n_per_day: int = 4) -> dict[str, Candles]:
    """A flat at 100; B's open is b_prices[d] all through day d. Candles of 6 h."""
    n = len(b_prices) * n_per_day
    t = T0 + np.arange(n, dtype=np.int64) * (DAY // n_per_day)
    a = np.full(n, 100.0)
    b = np.repeat(np.asarray(b_prices, dtype=np.float64), n_per_day)
    return {s: Candles(s, "6h", t, x, x, x, x, np.ones(n)) for s, x in (("A/USDT", a),
                                                                      ("B/USDT", b))}


def test_daily_rebalance_on_a_doubling_pair() -> None:
    res = run_rebalance(_basket([100, 200, 200]), wallet=1000.0, fee=0.0, min_trade=1.0,
                        every="1d")
    rows = [(x["time"] - T0, x["pair"], x["side"], x["amount"]) for x in res.legs]
    assert rows == [
        (0, "A/USDT", "buy", 5.0), (0, "B/USDT", "buy", 5.0),  # 50/50 at the start
        # day 1 00:00: B doubled, equity 1500: sell B down to 750, buy A up to 750
        (DAY, "B/USDT", "sell", 1.25), (DAY, "A/USDT", "buy", 2.5),
    ]  # day 2: already on target, nothing to do
    assert res.metrics["rebalances"] == 2 and res.metrics["final_equity"] == 1500.0
    assert res.metrics["buy_and_hold_profit"] == 0.5
    assert np.allclose(res.weights[-1], [0.5, 0.5])


def test_the_drift_threshold_waits_for_a_large_enough_gap() -> None:
    b = [100, 104, 130, 130]  # weights 0.49 (gap 1 %) then 0.565 (gap 6.5 %)
    res = run_rebalance(_basket(b, 1), wallet=1000.0, fee=0.0, min_trade=1.0, every=None,
                        threshold=0.05)
    assert sorted({(x["time"] - T0) // DAY for x in res.legs}) == [0, 2]
    both = run_rebalance(_basket(b, 1), wallet=1000.0, fee=0.0, min_trade=1.0, every="1d",
                         threshold=0.05)
    assert both.legs == res.legs  # daily candles: every check is on a period
    with pytest.raises(ValueError, match="period"):
        run_rebalance(_basket(b, 1), every=None, threshold=None)


def test_the_cli_runs_the_basket_and_writes_its_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    n = 3 * 288
    t = T0 + np.arange(n, dtype=np.int64) * STEP
    for s, drift_per in (("AAA/USDT", 0.0005), ("BBB/USDT", -0.0003)):
        c = 100 * np.exp(np.arange(n) * drift_per)
        o = np.r_[100.0, c[:-1]]
        write_csv(data, Candles(s, "5m", t, o, np.maximum(o, c), np.minimum(o, c), c,
                                np.ones(n)))
    out = tmp_path / "rep"
    doc = json_of(invoke("backtest", "--data", str(data), "--strategy", "rebalance",
                         "--wallet", "1000", "--weights", "AAA/USDT=0.7,BBB/USDT=0.3",
                         "--out", str(out), "--json"))
    assert doc["config"]["weights"] == {"AAA/USDT": 0.7, "BBB/USDT": 0.3}
    assert doc["metrics"]["rebalances"] == 3  # the start and two midnights
    assert {p.name for p in out.iterdir()} == {"summary.json", "legs.csv", "report.png"}
    assert (out / "report.png").read_bytes().startswith(b"\x89PNG")
    one_line_error(invoke("backtest", "--data", str(data), "--strategy", "rebalance",
                          "--weights", "AAA/USDT:0.7"), "PAIR=WEIGHT")
