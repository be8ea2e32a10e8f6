"""Backtest inputs a real account cannot have, and corrupt candle files: refused in one
line naming the flag or the row (never a traceback, never a silent result), or, with
`--repair`, mended as Freqtrade does and said so."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest.candlecheck import MAX_MISSING, first_problem, load_checked
from engine.data.candles import Candles
from engine.errors import DataError
from tests.backtest.clidata import flat, invoke, json_of, one_line_error, wave, write_csv


def _csv(tmp_path, c: Candles):  # type: ignore[no-untyped-def]
    write_csv(tmp_path / "d", c)
    return str(tmp_path / "d")


@pytest.mark.parametrize("args,needle", [
    (["--fee", "-1"], "--fee -1"),
    (["--fee", "nan"], "--fee nan"),
    (["--slippage", "-0.1"], "--slippage"),
    (["--max-open-trades", "0"], "--max-open-trades 0"),
    (["--max-open-trades", "-5"], "--max-open-trades -5"),
    (["--wallet", "-5"], "--wallet -5"),
    (["--wallet", "inf"], "--wallet inf"),
    (["--wallet", "1e30"], "--wallet 1e+30"),
    (["--stake", "-10"], "--stake -10"),
    (["--stake", "nan"], "--stake nan"),
    (["--stake", "inf"], "--stake inf"),
    (["--stake", "5000", "--wallet", "1000"], "no larger than --wallet"),
    (["--stake", "150%"], "--stake '150%'"),
    (["--stake", "abc%"], "--stake 'abc%'"),
    (["--stoploss", "0.5"], "--stoploss 0.5"),
    (["--stoploss", "-1.5"], "--stoploss -1.5"),
    (["--stoploss", "nan"], "--stoploss nan"),
    (["--noise", "-1"], "--noise -1"),
    (["--monte-carlo", "-3"], "--monte-carlo -3"),
    (["--timerange", "20251010-20250101"], "start must be before the end"),
])
def test_backtest_refuses_impossible_settings(tmp_path, args: list[str],  # type: ignore[no-untyped-def]
                                              needle: str) -> None:
    data = _csv(tmp_path, wave("A/B"))
    one_line_error(invoke("backtest", "--data", data, *args), needle)


@pytest.mark.parametrize("args,needle", [
    (["--wallet", "0"], "--wallet 0"),
    (["--stake", "-1"], "--stake -1"),
    (["--stoploss", "0.2"], "--stoploss 0.2"),
    (["--fee", "-0.5"], "--fee -0.5"),
])
def test_hyperopt_refuses_impossible_settings(tmp_path, args: list[str],  # type: ignore[no-untyped-def]
                                              needle: str) -> None:
    data = _csv(tmp_path, wave("A/B"))
    one_line_error(invoke("hyperopt", "--data", data, "--epochs", "1", *args), needle)


def _with(c: Candles, i: int, **cols: float) -> Candles:
    arrs = {k: getattr(c, k).copy() for k in ("open", "high", "low", "close", "volume")}
    for k, v in cols.items():
        arrs[k][i] = v
    return Candles(c.symbol, c.timeframe, c.open_time.copy(), arrs["open"], arrs["high"],
                   arrs["low"], arrs["close"], arrs["volume"])


def _rows(c: Candles, idx: np.ndarray) -> Candles:
    return Candles(c.symbol, c.timeframe, c.open_time[idx], c.open[idx], c.high[idx],
                   c.low[idx], c.close[idx], c.volume[idx])


BASE = wave("A/B", 300)
N = len(BASE)
CORRUPT = {
    "nan": (_with(BASE, 50, open=float("nan")), "row 51", "open is nan"),
    "negative": (_with(BASE, 60, low=-1e308), "row 61", "low is -1e+308"),
    "zero": (_with(BASE, 70, close=0.0), "row 71", "close is 0"),
    "huge": (_with(BASE, 80, high=1e300), "row 81", "above"),
    "spike": (_with(BASE, 90, high=float(BASE.high[90]) * 1000), "row 91", "100x"),
    "crash_wick": (_with(BASE, 95, low=float(BASE.low[95]) / 1000), "row 96", "100x"),
    "volume": (_with(BASE, 99, volume=-3.0), "row 100", "volume is -3"),
    "unsorted": (_rows(BASE, np.r_[0:10, 11, 10, 12:N]), "row 12", "earlier than"),
    "duplicate": (_rows(BASE, np.r_[0:21, 20:N]), "row 22", "duplicates"),
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_candles_refused_then_repaired(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    bad, row, what = CORRUPT[name]
    problem = first_problem(bad)
    assert problem is not None and row in problem and what in problem, problem
    data = _csv(tmp_path, bad)
    text = one_line_error(invoke("backtest", "--data", data, "--json"), row)
    assert "--repair" in text
    doc = json_of(invoke("backtest", "--data", data, "--repair", "--json"))
    assert doc["repairs"] and doc["repairs"][0].startswith("A/B: --repair")
    repaired, _ = load_checked(tmp_path / "d", None, "5m", repair_rows=True)
    c = repaired["A/B"]
    assert first_problem(c) is None and np.all(np.diff(c.open_time) == 300_000)


def test_a_real_move_is_not_a_corrupt_row() -> None:
    """A price that jumps and stays there is a move, whatever its size."""
    c = flat("A/B", 60)
    scale = np.where(np.arange(60) >= 30, 500.0, 1.0)
    moved = Candles(c.symbol, c.timeframe, c.open_time, c.open * scale, c.high * scale,
                    c.low * scale, c.close * scale, c.volume)
    assert first_problem(moved) is None


def test_gaps_are_reported_and_many_need_repair(tmp_path) -> None:  # type: ignore[no-untyped-def]
    few = _rows(BASE, np.r_[0:100, 105:N])  # 5 of 300 missing: filled, and said so
    data = _csv(tmp_path, few)
    doc = json_of(invoke("backtest", "--data", data, "--json"))
    assert doc["candles"] == N
    assert any("filled 5 missing candles" in n and "longest gap 5" in n for n in doc["repairs"])
    many_n = int(N * MAX_MISSING) + 10
    many = _rows(BASE, np.r_[0:100, 100 + many_n:N])
    write_csv(tmp_path / "m", many)
    with pytest.raises(DataError, match=f"{many_n} of {N} 5m candles missing"):
        load_checked(tmp_path / "m", None, "5m")
    out, notes = load_checked(tmp_path / "m", None, "5m", repair_rows=True)
    assert len(out["A/B"]) == N and f"filled {many_n} missing" in notes[0]
    one_line_error(invoke("backtest", "--data", str(tmp_path / "m")), "--repair")


def test_hyperopt_reports_the_gaps_it_filled(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # the best set is written to var/strategies/ under cwd
    data = _csv(tmp_path, _rows(BASE, np.r_[0:100, 103:N]))
    doc = json_of(invoke("hyperopt", "--data", data, "--epochs", "2", "--min-trades", "0",
                         "--oos-fraction", "0", "--json"))
    assert any("filled 3 missing candles" in n for n in doc["repairs"])
