"""The DCA bot on constructed candles where every order is known: the base order, the
safety-order ladder (deviation, step scale, volume scale), a gap filling several SOs
at the open (up to the active ones), the take profit on the averaged position, the
trailing take-profit, the start conditions and a restart before every candle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.strategy.dca import DcaBot
from engine.strategy.interface import Frame
from tests.backtest.helpers import candles
from tests.engine.test_grid import _rebuilt

# base 250 (stake 1000 / deal size 1 + 1 + 2); SO1 at -2 % (250), SO2 at -5 % (500)
LADDER = {"start": "immediately", "max_safety_orders": 2, "safety_ratio": 1.0,
          "volume_scale": 2.0, "deviation": 0.02, "step_scale": 1.5,
          "max_active_safety_orders": 2, "take_profit": 0.01}


def _bot(**p: Any) -> DcaBot:
    return DcaBot().set_params(**{**LADDER, **p})  # type: ignore[return-value]


def _run(strat: DcaBot, o: Any, h: Any, lo: Any) -> Any:
    c = candles("X/USDT", o, h=h, lo=lo)
    return run_backtest({"X/USDT": c}, strat, stake=1000.0, fee=0.0, wallet=100_000.0)


def test_the_ladder() -> None:
    b = _bot()
    assert b.deal_size() == 4.0
    assert [round(b.so_deviation(i), 9) for i in (1, 2)] == [0.02, 0.05]
    assert [b.so_size(i) for i in (1, 2)] == [1.0, 2.0]
    d = DcaBot()  # 3Commas-like defaults: 1.5 % then x1.2 steps, volumes x1.2
    assert [round(d.so_deviation(i), 6) for i in (1, 2, 3)] == [0.015, 0.033, 0.0546]


def test_safety_orders_rest_then_a_gap_buys_at_the_open_and_tp_sells_the_average() -> None:
    o = [100, 100, 99, 94, 95, 95]
    h = [100, 100.5, 99, 94.5, 98, 98]
    lo = [100, 99.5, 97.5, 93, 95, 95]
    res = _run(_bot(), o, h, lo)
    rows = [(r["side"], r["tag"], float(r["price"]), round(float(r["amount"]) * float(
        r["price"]), 6)) for r in res.orders]
    assert rows[:3] == [
        ("buy", "dca_immediately", 100.0, 250.0),  # the base order at the open
        ("buy", "safety_order", 98.0, 250.0),      # SO1 rested at -2 %, filled on candle 2
        ("buy", "safety_order", 94.0, 500.0),      # candle 3 opened below SO2 (95): the open
    ]
    side, tag, price, _ = rows[3]
    assert (side, tag) == ("sell", "roi")
    avg = 1000.0 / (2.5 + 250 / 98 + 500 / 94)  # the averaged entry: 96.43
    assert price == pytest.approx(avg * 1.01, abs=0.05)  # +1 % on it, on the price step
    assert float(res.orders[3]["amount"]) == pytest.approx(2.5 + 250 / 98 + 500 / 94)
    assert res.trades.profit_abs[0] > 0


def test_a_gap_fills_at_most_the_active_safety_orders() -> None:
    o = [100, 100, 90, 90]
    h = [100, 100.5, 90.5, 90.5]
    lo = [100, 99.5, 89.5, 89.5]
    one = _run(_bot(max_active_safety_orders=1), o, h, lo)
    two = _run(_bot(max_active_safety_orders=2), o, h, lo)
    assert [round(float(r["amount"]) * float(r["price"]), 6) for r in one.orders[:3]] == [
        250.0, 250.0, 500.0]  # one SO per candle: SO1 on candle 2, SO2 on candle 3
    assert [round(float(r["amount"]) * float(r["price"]), 6) for r in two.orders[:2]] == [
        250.0, 750.0]  # both crossed SOs in one order at the open
    assert [float(r["price"]) for r in two.orders[:2]] == [100.0, 90.0]


def test_the_trailing_take_profit_follows_the_high() -> None:
    o = [100, 100, 101, 101]
    h = [100, 100.5, 102, 101.5]
    lo = [100, 99.5, 100.8, 100.5]
    trail = _run(_bot(trailing_tp=True, trailing_deviation=0.005), o, h, lo)
    # armed at +1 %, the stop sits 0.5 % under the high (102): 101.49, on the step up
    assert trail.orders[1]["tag"] == "trailing_stop_loss"
    assert float(trail.orders[1]["price"]) == pytest.approx(102 * 0.995, abs=0.06)
    plain = _run(_bot(), o, h, lo)  # without trailing: the take profit at +1 %
    assert (plain.orders[1]["tag"], float(plain.orders[1]["price"])) == ("roi", 101.0)
    assert _bot(trailing_tp=True).minimal_roi == {}
    assert _bot().minimal_roi == {0: 0.01} and not _bot().trailing_stop


def test_start_conditions_read_rsi_sentiment_or_nothing() -> None:
    n = 40
    close = np.concatenate([np.linspace(100, 80, 30), np.linspace(82, 100, 10)])
    sent = np.full(n, np.nan)
    sent[35] = 0.5
    f = Frame({"open": close, "high": close, "low": close, "close": close,
               "volume": np.ones(n), "sentiment": sent}, n=n)

    def entries(**p: Any) -> Any:
        s = _bot(**p)
        out = s.populate_entry_trend(s.populate_indicators(Frame(dict(f), n=n), {}), {})
        return np.flatnonzero(out["enter_long"])

    assert len(entries(start="immediately")) == n
    assert list(entries(start="sentiment", sentiment_min=0.2)) == [35]
    rsi_rows = entries(start="rsi", rsi_max=30.0)
    # the fall (RSI 0 after its warm-up) and the first candle up; none once it rallies
    assert list(rsi_rows) == list(range(14, 31))


class Restarting(DcaBot):
    name = "dca_restarting"

    def _fresh(self) -> DcaBot:
        return DcaBot().set_params(**{k: getattr(self, k) for k in self.parameters()})  # type: ignore[return-value]

    def adjust_trade_position(self, trade: Any, *a: Any, **k: Any) -> Any:
        return self._fresh().adjust_trade_position(_rebuilt(trade), *a, **k)

    def custom_entry_price(self, pair: str, trade: Any, *a: Any, **k: Any) -> float:
        return self._fresh().custom_entry_price(
            pair, None if trade is None else _rebuilt(trade), *a, **k)


def test_a_restart_before_every_candle_changes_no_order() -> None:
    rng = np.random.default_rng(3)
    i = np.arange(800)
    close = 100 * (1 + 0.06 * np.sin(i / 30)) * np.exp(rng.normal(0, 0.004, 800))
    o = np.concatenate([[100.0], close[:-1]])
    h, lo = np.maximum(o, close) * 1.003, np.minimum(o, close) * 0.997
    p = {**LADDER, "max_active_safety_orders": 1}
    a = _run(_bot(**p), o, h, lo)
    b = _run(Restarting().set_params(**p), o, h, lo)  # type: ignore[arg-type]
    assert len(a.trades) > 5 and sum(r["tag"] == "safety_order" for r in a.orders) > 5
    assert a.orders == b.orders


def test_the_derived_take_profit_cannot_be_set_behind_the_parameters() -> None:
    from engine.strategy.interface import StrategyError

    with pytest.raises(StrategyError, match="take_profit"):
        _bot().minimal_roi = {0: 0.05}
    with pytest.raises(StrategyError, match="trailing_tp"):
        _bot().set_params(trailing_stop=True)
