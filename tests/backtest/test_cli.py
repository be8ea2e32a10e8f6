"""`sentitrade backtest` / `hyperopt` through the real Typer app."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.backtest.conftest import REF, TESTDATA, need

runner = CliRunner()


def _one_line_error(res) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code != 0
    text = (res.stderr if hasattr(res, "stderr") else res.output).strip()
    assert "Traceback" not in res.output
    assert len(text.splitlines()) == 1, text


def test_backtest_json_and_report(tmp_path: Path) -> None:
    d = need(TESTDATA)
    out = tmp_path / "rep"
    res = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(d),
            "--pairs",
            "ETH/BTC,LTC/BTC",
            "--stake",
            "0.05",
            "--wallet",
            "1",
            "--stoploss",
            "-0.1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["candles"] > 10_000
    assert set(doc["timings"]) >= {"load", "indicators", "simulate", "report"}
    assert doc["metrics"]["total_trades"] == len(doc["trades"]) > 0
    with (out / "trades.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    ref_cols = next(csv.reader((REF / "freqtrade_ema_rsi_testdata5m_sl10.csv").open()))
    # the reference's columns, then the realised profit including partial exits
    assert list(rows[0]) == [*ref_cols, "realized_profit"]
    assert len(rows) == len(doc["trades"])
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert json.loads((out / "summary.json").read_text())["metrics"]["total_trades"] == len(rows)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--pairs", "NOPE/BTC"], "no candles for NOPE/BTC"),
        (["--timerange", "20300101-"], "no candles in timerange"),
        (["--strategy", "nope"], "unknown strategy"),
        (["--stake", "abc"], "--stake"),
    ],
)
def test_backtest_bad_arguments_one_line(args: list[str], needle: str) -> None:
    d = need(TESTDATA)
    res = runner.invoke(app, ["backtest", "--data", str(d), *args])
    _one_line_error(res)
    assert needle in res.output


def test_backtest_missing_path(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backtest", "--data", str(tmp_path / "absent")])
    _one_line_error(res)
    assert "not found" in res.output


def test_hyperopt_bad_sampler_and_loss() -> None:
    d = need(TESTDATA)
    for args in (["--sampler", "nope"], ["--loss", "nope"]):
        res = runner.invoke(app, ["hyperopt", "--data", str(d), *args])
        _one_line_error(res)


def test_backtest_orders_out(tmp_path: Path) -> None:
    """--orders-out writes the reference's *.orders.csv columns: every filled order of
    an order-level strategy, and the two orders of each market-order trade."""
    d = need(TESTDATA)
    ref_cols = next(csv.reader(need(REF / "freqtrade_emarsidca_testdata5m.orders.csv").open()))
    for strategy in ("ema_rsi_dca", "ema_rsi_cross"):
        path = tmp_path / f"{strategy}.orders.csv"
        res = runner.invoke(
            app,
            ["backtest", "--data", str(d), "--pairs", "ETH/BTC,LTC/BTC", "--strategy",
             strategy, "--stake", "0.05", "--wallet", "1", "--orders-out", str(path),
             "--trades-out", str(tmp_path / "t.csv"), "--json"],
        )
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        with path.open() as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0]) == ref_cols
        exits = [r for r in rows if r["is_entry"] == "False"]
        opens = {(t["pair"], t["open_time"]) for t in doc["trades"]}
        assert {(r["pair"], r["trade_open_time"]) for r in rows} == opens
        # every trade ends with one full exit carrying its exit reason
        last = {(r["pair"], r["trade_open_time"]): r for r in exits}
        assert sorted(r["tag"] for r in last.values()) == sorted(
            t["exit_reason"] for t in doc["trades"])
        if strategy == "ema_rsi_dca":
            assert any(r["tag"] == "safety" for r in rows)
        else:
            assert len(rows) == 2 * len(doc["trades"])
