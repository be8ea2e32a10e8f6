"""Futures backtests: shorts with leverage, funding every 8 h, liquidation, the
``leverage`` callback and the max_leverage limit. Spot runs stay as they were."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.backtest.runner import run_backtest
from engine.margin.funding import FundingRates
from tests.backtest.helpers import Scripted, candles

N = 201  # 5m candles from 00:00: funding times at candles 96 (08:00) and 192 (16:00)


def _flat(n: int = N, spike: dict[int, float] | None = None) -> Any:
    o = [100.0] * n
    h = [100.0] * n
    lo = [100.0] * n
    for i, v in (spike or {}).items():
        h[i] = max(h[i], v)
        lo[i] = min(lo[i], v)
    return {"BTC/USDT": candles("BTC/USDT", o, h, lo)}


def _run(script: dict[str, Any], data: Any = None, strat: Scripted | None = None,
         **kw: Any) -> Any:
    s = strat or Scripted({"BTC/USDT": script}, can_short=True)
    return run_backtest(data or _flat(), s, stake=1000.0, fee=0.0, **kw)


def test_short_with_leverage_opens_receives_funding_and_closes() -> None:
    res = _run({"enter_short": [0], "exit_short": [199]}, trading_mode="futures", leverage=3.0,
               funding=FundingRates(0.0001))
    t = res.trades
    assert len(t) == 1 and bool(t.is_short[0])
    assert t.exit_reason[0] == "exit_signal"
    assert t.leverage is not None and t.leverage[0] == 3.0
    assert t.amount[0] == pytest.approx(30.0)  # 1,000 margin x 3 / 100
    # two funding times held (08:00, 16:00): a short RECEIVES a positive rate
    assert t.funding_fees is not None and t.funding_fees[0] == pytest.approx(2 * 30 * 100 * 1e-4)
    assert t.profit_abs[0] == pytest.approx(0.6)
    assert t.profit_ratio[0] == pytest.approx(0.6 / 1000)  # over the margin
    # Binance's isolated formula: (WB + cum + size*EP) / (size*MMR + size)
    assert t.liquidation_price is not None
    # after the funding received, the margin is 1,000.6
    assert t.liquidation_price[0] == pytest.approx(4000.6 / (30 * 0.004 + 30))
    row = t.rows()[0]
    assert row["leverage"] == 3.0 and row["funding_fees"] == pytest.approx(0.6)
    assert res.config["trading_mode"] == "futures"


def test_long_pays_positive_funding_from_a_rate_file(tmp_path: Any) -> None:
    from engine.margin.funding import load_funding_file

    f = tmp_path / "f.csv"
    f.write_text("timestamp,fundingRate\n2024-01-01T08:00:00Z,0.0002\n"
                 "2024-01-01T16:00:00Z,-0.0001\n")
    res = _run({"enter_long": [0], "exit_long": [199]}, trading_mode="futures", leverage=2.0,
               funding=load_funding_file(f))
    t = res.trades
    assert t.funding_fees is not None
    # 20 units: pays 20*100*0.0002 = 0.4, then receives 20*100*0.0001 = 0.2
    assert t.funding_fees[0] == pytest.approx(-0.2)
    assert t.profit_abs[0] == pytest.approx(-0.2)


def test_short_is_liquidated_at_the_liquidation_price() -> None:
    data = _flat(spike={10: 140.0})
    res = _run({"enter_short": [0]}, data, trading_mode="futures", leverage=10.0,
               max_leverage=10.0)
    t = res.trades
    lp = (1000 + 100 * 100) / (100 * 0.004 + 100)  # below the 10 % stop at 110
    assert t.exit_reason.tolist() == ["liquidation"]
    assert t.close_rate[0] == pytest.approx(lp)
    assert t.profit_abs[0] == pytest.approx(-100 * (lp - 100))
    assert -1.0 < t.profit_ratio[0] < -0.95  # the margin is gone, less maintenance margin


def test_a_stop_before_the_liquidation_price_fires_first() -> None:
    res = _run({"enter_short": [0]}, _flat(spike={10: 140.0}), trading_mode="futures",
               leverage=3.0)
    assert res.trades.exit_reason.tolist() == ["stop_loss"]
    assert res.trades.close_rate[0] == pytest.approx(110.0)


class _Lev(Scripted):
    def __init__(self, lev: float, **kw: Any) -> None:
        super().__init__({"BTC/USDT": {"enter_short": [0, 50], "exit_short": [20]}},
                         can_short=True, **kw)
        self.lev = lev
        self.calls: list[dict[str, Any]] = []

    def leverage(self, pair: str, current_time: Any, current_rate: float,
                 proposed_leverage: float, max_leverage: float, entry_tag: str | None,
                 side: str, **kwargs: Any) -> float:
        self.calls.append({"pair": pair, "rate": current_rate, "proposed": proposed_leverage,
                           "max": max_leverage, "side": side, "time": current_time})
        return self.lev


def test_leverage_callback_sets_each_trade_and_refuses_above_max() -> None:
    s = _Lev(2.0)
    res = _run({}, strat=s, trading_mode="futures", leverage=1.0)
    assert res.trades.leverage is not None and res.trades.leverage.tolist() == [2.0, 2.0]
    assert s.calls[0]["side"] == "short" and s.calls[0]["max"] == 3.0
    assert s.calls[0]["proposed"] == 1.0 and s.calls[0]["rate"] == 100.0
    big = _Lev(5.0)
    res = _run({}, strat=big, trading_mode="futures")
    assert len(res.trades) == 0 and res.config["refused_leverage"] == 2


def test_max_leverage_refuses_a_proposal_above_it() -> None:
    with pytest.raises(ValueError, match="above the risk limit max_leverage 3"):
        _run({"enter_short": [0]}, trading_mode="futures", leverage=5.0)
    with pytest.raises(ValueError, match="needs --trading-mode futures"):
        _run({"enter_short": [0]}, leverage=2.0)


def test_futures_at_1x_without_funding_equals_spot_for_longs() -> None:
    rng = np.random.default_rng(7)
    o = list(100 + np.cumsum(rng.normal(0, 0.3, N)))
    data = {"BTC/USDT": candles("BTC/USDT", o)}
    script = {"enter_long": [3, 60, 150], "exit_long": [40, 120, 190]}
    spot = run_backtest(data, Scripted({"BTC/USDT": script}), stake=1000.0)
    fut = run_backtest(data, Scripted({"BTC/USDT": script}), stake=1000.0,
                       trading_mode="futures")
    assert spot.trades.leverage is None and "leverage" not in spot.trades.rows()[0]
    assert np.array_equal(spot.trades.profit_abs, fut.trades.profit_abs)
    assert np.allclose(spot.trades.profit_ratio, fut.trades.profit_ratio)


def test_trades_csv_carries_the_futures_columns(tmp_path: Any) -> None:
    from engine.backtest.report import write_trades_csv

    res = _run({"enter_short": [0], "exit_short": [199]}, trading_mode="futures", leverage=2.0,
               funding=FundingRates(0.0001))
    head, row = write_trades_csv(res, tmp_path / "t.csv").read_text().splitlines()[:2]
    assert head.endswith("is_open,realized_profit,leverage,liquidation_price,funding_fees,is_short")
    assert row.split(",")[-4] == "2.0" and row.endswith(",True")
    spot = _run({"enter_short": [0], "exit_short": [199]})
    assert write_trades_csv(spot, tmp_path / "s.csv").read_text().splitlines()[0].endswith(
        "exit_reason,is_open,realized_profit")
