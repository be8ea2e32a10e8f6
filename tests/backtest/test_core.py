"""Fill rules of the simulation core on hand-made candles (each case one rule)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.backtest.core import ceil_tick, floor_tick
from engine.backtest.runner import monthly_tick_decimals
from engine.data.candles import read_candles
from tests.backtest.conftest import BINANCE, TESTDATA
from tests.backtest.helpers import Scripted, candles


def run(c: dict, strat: Scripted, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("stake", 100.0)
    kw.setdefault("fee", 0.0)
    kw.setdefault("wallet", 10_000.0)
    return run_backtest(c, strat, **kw)


def test_entry_fills_at_next_open_and_exit_signal_at_next_open() -> None:
    c = {"A/B": candles("A/B", [10, 11, 12, 13, 14, 15])}
    r = run(c, Scripted({"A/B": {"enter_long": [1], "exit_long": [3]}}))
    tr = r.trades
    assert len(tr) == 1
    assert tr.open_rate[0] == 12 and tr.close_rate[0] == 14
    assert (tr.open_ms[0] - c["A/B"].open_time[0]) // 300_000 == 2
    assert tr.exit_reason[0] == "exit_signal"
    assert tr.profit_abs[0] == pytest.approx(100 / 12 * 2, abs=1e-8)


def test_stop_fills_at_stop_price_and_gap_beyond_candle_fills_at_open() -> None:
    o = [10, 10, 10, 10, 10]
    lo = [10, 10, 9.5, 10, 10]
    c = {"A/B": candles("A/B", o, lo=lo)}
    r = run(c, Scripted({"A/B": {"enter_long": [0]}}, stoploss=-0.04))
    assert r.trades.exit_reason[0] == "stop_loss"
    assert r.trades.close_rate[0] == pytest.approx(9.6)
    # whole candle below the stop -> the open
    c = {"A/B": candles("A/B", [10, 10, 10, 8, 8], h=[10, 10, 10, 8.5, 8], lo=[10, 10, 10, 7.9, 8])}
    r = run(c, Scripted({"A/B": {"enter_long": [0]}}, stoploss=-0.04))
    assert r.trades.exit_reason[0] == "stop_loss"
    assert r.trades.close_rate[0] == 8


def test_exit_signal_wins_over_stop_on_the_same_candle() -> None:
    c = {"A/B": candles("A/B", [10, 10, 10, 10], lo=[10, 10, 5, 10])}
    r = run(c, Scripted({"A/B": {"enter_long": [0], "exit_long": [1]}}, stoploss=-0.04))
    assert r.trades.exit_reason[0] == "exit_signal"
    assert r.trades.close_rate[0] == 10


def test_short_trade_profits_when_price_falls_and_stops_above() -> None:
    c = {"A/B": candles("A/B", [10, 10, 9, 8, 8])}
    r = run(c, Scripted({"A/B": {"enter_short": [0], "exit_short": [2]}}, can_short=True))
    assert r.trades.is_short[0]
    assert r.trades.profit_abs[0] == pytest.approx(100 / 10 * 2)
    c = {"A/B": candles("A/B", [10, 10, 10, 10], h=[10, 10, 11, 10])}
    r = run(c, Scripted({"A/B": {"enter_short": [0]}}, can_short=True, stoploss=-0.05))
    assert r.trades.exit_reason[0] == "stop_loss"
    assert r.trades.close_rate[0] == pytest.approx(10.5)


def test_short_signals_ignored_unless_can_short() -> None:
    c = {"A/B": candles("A/B", [10, 10, 9, 8, 8])}
    r = run(c, Scripted({"A/B": {"enter_short": [0]}}))
    assert len(r.trades) == 0


def test_trailing_stop_follows_the_high() -> None:
    o = [10, 10, 10, 12, 12, 12]
    h = [10, 10, 10, 12, 12, 12]
    lo = [10, 10, 10, 12, 12, 10.5]
    c = {"A/B": candles("A/B", o, h=h, lo=lo)}
    r = run(c, Scripted({"A/B": {"enter_long": [0]}}, stoploss=-0.10, trailing_stop=True))
    assert r.trades.exit_reason[0] == "trailing_stop_loss"
    assert r.trades.close_rate[0] == pytest.approx(10.8)


def test_roi_exits_at_the_target_rate() -> None:
    o = [10, 10, 10, 10.2, 10]
    h = [10, 10, 10, 11, 10]
    c = {"A/B": candles("A/B", o, h=h)}
    r = run(c, Scripted({"A/B": {"enter_long": [0]}}, minimal_roi={0: 0.05}))
    assert r.trades.exit_reason[0] == "roi"
    assert r.trades.close_rate[0] == pytest.approx(10.5)


def test_max_open_trades_skips_entries_beyond_the_limit() -> None:
    c = {p: candles(p, [10, 10, 10, 10, 10]) for p in ("A/B", "C/B", "D/B")}
    script = {p: {"enter_long": [0]} for p in c}
    r = run(c, Scripted(script), max_open_trades=2)
    assert len(r.trades) == 2
    assert list(r.trades.pair) == ["A/B", "C/B"]
    assert all(r.trades.exit_reason == "force_exit")


def test_stake_percent_of_equity_and_scale() -> None:
    c = {"A/B": candles("A/B", [10, 10, 10, 10])}
    r = run(c, Scripted({"A/B": {"enter_long": [0], "stake_scale": [0.5, 1, 1, 1]}}), stake="10%")
    assert r.trades.stake_amount[0] == pytest.approx(10_000 * 0.10 * 0.5)


def test_insufficient_wallet_skips_entry() -> None:
    c = {"A/B": candles("A/B", [10, 10, 10, 10])}
    r = run(c, Scripted({"A/B": {"enter_long": [0]}}), stake=500.0, wallet=100.0)
    assert len(r.trades) == 0


def test_limit_entry_fills_only_when_the_candle_reaches_it() -> None:
    c = {"A/B": candles("A/B", [10, 10, 10, 10], lo=[10, 9.8, 9.4, 10])}
    lim = [9.5, 9.5, 9.5, 9.5]
    s = Scripted({"A/B": {"enter_long": [0, 1], "enter_limit": lim}}, order_type="limit")
    r = run(c, s)
    assert len(r.trades) == 1
    assert r.trades.open_rate[0] == 9.5
    assert (r.trades.open_ms[0] - c["A/B"].open_time[0]) // 300_000 == 2


def test_fees_and_slippage_cost_money() -> None:
    c = {"A/B": candles("A/B", [10, 10, 10, 10, 10])}
    s = Scripted({"A/B": {"enter_long": [0], "exit_long": [2]}})
    base = run(c, s).trades.profit_abs[0]
    fee = run(c, s, fee=0.001).trades.profit_abs[0]
    slip = run(c, s, slippage=0.001).trades.profit_abs[0]
    assert base == 0 and fee < 0 and slip < 0
    assert fee == pytest.approx(-(100 * 0.001 + 100 * 0.999 * 0.001 / 1.0), rel=1e-2)


def test_force_exit_at_last_candle_open_per_pair() -> None:
    c = {"A/B": candles("A/B", [10, 11, 12, 13]), "C/B": candles("C/B", [5, 6, 7, 8, 9, 10])}
    s = Scripted({"A/B": {"enter_long": [0]}, "C/B": {"enter_long": [0]}})
    r = run(c, s)
    by = dict(zip(r.trades.pair, r.trades.close_rate, strict=True))
    assert by == {"A/B": 13, "C/B": 10}


def test_tick_rounding_matches_freqtrade_rules() -> None:
    assert ceil_tick(2.8126e-05, 8) == 2.813e-05
    assert ceil_tick(0.0909 * 0.98, 8) == 0.089082  # already on the step: unchanged
    assert floor_tick(10.123456, 4) == 10.1234
    assert ceil_tick(123.456, -1) == 123.456


@pytest.mark.parametrize(
    "folder,name",
    [
        (TESTDATA, "ETH_BTC-5m.feather"),
        (TESTDATA, "NXT_BTC-5m.feather"),
        (BINANCE, "XRP_USDT-5m.feather"),
        (BINANCE, "BTC_USDT-5m.feather"),
    ],
)
def test_tick_decimals_equal_freqtrade_string_method(folder, name) -> None:  # type: ignore[no-untyped-def]
    """Our exact arithmetic gives what the string method gives: each price written with
    14 significant digits, trailing zeros trimmed (BTC at 94000.12 -> a 0.01 step; the
    test data's 3.143e-05 -> 1e-8)."""
    path = folder / name
    if not path.exists():
        pytest.skip("reference data absent")
    c = read_candles(path)
    c = c._take(slice(0, 20_000))
    ours = monthly_tick_decimals(c)

    def digits(v: float) -> int:
        s = np.format_float_positional(v, precision=14, unique=False, fractional=False,
                                       trim="-")
        return len(s) - s.find(".") - 1 if "." in s else -1

    vals = np.stack([c.open, c.high, c.low, c.close], axis=1)
    per = np.array([max(digits(float(v)) for v in row) for row in vals])
    month = c.open_time.astype("datetime64[ms]").astype("datetime64[M]")
    for m in np.unique(month):
        sel = month == m
        assert int(ours[sel][0]) == int(per[sel].max())
