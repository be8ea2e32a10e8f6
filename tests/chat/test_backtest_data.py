"""Chat /backtest reads the configured data (replay data, downloaded history in
Freqtrade's layout, then the embedded sample), states the period it used, refuses in
one line without data; and one Sharpe definition per label across the chat's text,
the CLI's table and the PNG."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.backtest.cli import _print_table
from engine.backtest.metrics import sharpe_text
from engine.backtest.report import headline_lines
from engine.errors import DataError
from engine.service.research import chat_backtest, find_candles
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade

SAMPLE = Path(__file__).resolve().parents[2] / "engine" / "data"


def _copy(src: str, dst: Path, rows: int) -> None:
    """The first `rows` candles of a sample file, under another file name."""
    with gzip.open(SAMPLE / src, "rt") as f:
        lines = f.read().splitlines()[: rows + 1]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(lines) + "\n")


def _settings(tmp: Path, **exchange: object) -> tuple[Settings, SessionFactory]:
    url = f"sqlite:///{tmp / 'bt.db'}"
    upgrade(url)
    return (Settings(database={"url": url}, exchange=exchange,
                     security={"key_file": tmp / "master.key"}),
            SessionFactory(make_engine(url)))


def test_sources_in_order_and_a_one_line_refusal(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # downloaded history: ./user_data/data/<exchange id>
    _copy("ETH_USDT-5m.csv.gz", tmp_path / "replay" / "ETH_USDT-5m.csv", 600)
    _copy("BTC_USDT-5m.csv.gz", tmp_path / "user_data" / "data" / "binance"
          / "SOL_USDT-5m.csv", 900)
    settings, _ = _settings(tmp_path, replay_data=tmp_path / "replay")
    assert find_candles(settings, "ETH/USDT", "5m")[0] == "replay data"
    source, folder, c = find_candles(settings, "SOL/USDT", "5m")
    assert (source, folder, len(c)) == ("downloaded history",
                                        Path("user_data/data/binance"), 900)
    assert find_candles(settings, "BTC/USDT", "5m")[0] == "the embedded sample"
    with pytest.raises(DataError) as e:
        find_candles(settings, "DOGE/USDT", "1h")
    assert "\n" not in str(e.value) and str(e.value).startswith("no DOGE/USDT 1h candles in ")
    assert "sentitrade download-data --pairs DOGE/USDT --timeframes 1h" in str(e.value)


def test_chat_backtest_states_the_real_period_and_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _copy("BTC_USDT-5m.csv.gz", tmp_path / "user_data" / "data" / "binance"
          / "SOL_USDT-5m.csv", 2016)  # 7 days of 5m candles
    settings, sessions = _settings(tmp_path)
    out = chat_backtest(settings, sessions, "SOL/USDT", "5m", 30, "ema_rsi_cross")
    m = out.summary["metrics"]
    assert "on SOL/USDT 5m, 20" in out.text and " to 20" in out.text
    assert "(7.0 days from downloaded history; 30 days asked, only 7.0 stored)" in out.text
    # one Sharpe definition per label: the chat's text, the PNG's headline and the
    # CLI's table all show the same figures under the same labels
    line = sharpe_text(m)
    assert line.startswith("Sharpe (per trade) ") and ", Sharpe (daily) " in line
    assert line in out.text
    assert line in headline_lines(m)
    assert out.report_png is not None and out.report_png.startswith(b"\x89PNG")
    sessions.engine.dispose()


def test_cli_table_shows_the_same_sharpe_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    settings, sessions = _settings(tmp_path)
    out = chat_backtest(settings, sessions, "BTC/USDT", "5m", 5, "ema_rsi_cross")
    res = SimpleNamespace(**{**out.summary, "breakdown": None})
    _print_table(res, None)
    printed = " ".join(capsys.readouterr().out.split())
    assert sharpe_text(out.summary["metrics"]) in printed
    assert "from the embedded sample" in out.text
    sessions.engine.dispose()
