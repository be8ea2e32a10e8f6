"""`sentitrade backtest` with news, pairs, strategy files and checked inputs (CLI path)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from engine.data.candles import Candles
from tests.backtest.clidata import (
    PROBE,
    flat,
    invoke,
    json_of,
    one_line_error,
    wave,
    write_csv,
    write_news,
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Candles for three pairs, a strategy folder with NewsProbe; cwd = tmp (var/ lands here)."""
    monkeypatch.chdir(tmp_path)
    for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        write_csv(tmp_path / "data", flat(s))
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "probe.py").write_text(PROBE)
    return tmp_path


def _entries(doc: dict) -> dict[str, str]:
    return {t["pair"]: t["open_time"] for t in doc["trades"]}


@pytest.mark.parametrize("delay,btc_entry", [
    ("0", "2025-01-01T00:15:00Z"),    # 00:13 headline counts for the candle closing 00:15
    ("120", "2025-01-01T00:15:00Z"),  # available 00:15:00: still that candle (A <= close)
    ("121", "2025-01-01T00:20:00Z"),  # a second later: the next one
    ("600", "2025-01-01T00:25:00Z"),
])
def test_headline_reaches_the_first_candle_closing_after_it_is_available(
        folder: Path, delay: str, btc_entry: str) -> None:
    news = write_news(folder / "n.jsonl", [
        {"published_at": "2025-01-01T00:13:00Z", "title": "Bitcoin surges to a record"},
        {"published_at": "2025-01-01T00:31:00Z", "title": "Ethereum upgrade goes live"},
    ])
    doc = json_of(invoke("backtest", "--data", "data", "--pairs", "BTC/USDT", "ETH/USDT",
                         "--strategy", "NewsProbe", "--strategy-path", "strats",
                         "--news", str(news), "--news-delay", delay, "--json"))
    # the signal is taken on the candle that saw the headline; the trade opens at the next
    eth = {"0": "00:35", "120": "00:35", "121": "00:35", "600": "00:45"}[delay]
    assert _entries(doc) == {"BTC/USDT": btc_entry, "ETH/USDT": f"2025-01-01T{eth}:00Z"}
    assert doc["news"]["headlines"] == 2 and doc["news"]["delay_s"] == float(delay)
    assert doc["config"]["news_delay_s"] == float(delay)


def test_without_news_no_sentiment_and_with_it_a_summary_line(folder: Path) -> None:
    doc = json_of(invoke("backtest", "--data", "data", "--strategy", "NewsProbe",
                         "--strategy-path", "strats", "--json"))
    assert doc["trades"] == [] and doc["news"] is None
    news = write_news(folder / "n.jsonl", [
        {"published_at": "2025-01-01T00:13:00Z", "title": "Solana surges"}])
    res = invoke("backtest", "--data", "data", "--strategy", "NewsProbe",
                 "--strategy-path", "strats", "--news", str(news))
    assert res.exit_code == 0, res.output
    assert "news n.jsonl" in res.output.replace(str(folder) + "/", "")
    assert "1 headlines" in res.output and "SOL 1" in res.output
    assert "NewsProbe: default parameters" in res.output


@pytest.mark.parametrize("form", [
    ["--pairs", "BTC/USDT", "ETH/USDT"],
    ["--pairs", "BTC/USDT,ETH/USDT"],
    ["--pairs", "BTC/USDT", "--pairs", "ETH/USDT"],
    ["-p", "BTC/USDT", "--json", "ETH/USDT"],
    ["--pairs", "BTC/USDT, ETH/USDT", "BTC/USDT"],
])
def test_pairs_space_comma_or_repeated(folder: Path, form: list[str]) -> None:
    args = ["backtest", "--data", "data", *form]
    if "--json" not in form:
        args.append("--json")
    assert json_of(invoke(*args))["pairs"] == ["BTC/USDT", "ETH/USDT"]


def test_a_bare_word_without_pairs_is_refused(folder: Path) -> None:
    one_line_error(invoke("backtest", "--data", "data", "ETH/USDT"), "unexpected argument")


def test_strategy_path_from_the_settings_and_unknown_names(folder: Path) -> None:
    env = {"SENTITRADE_ENGINE__STRATEGY_PATH": str(folder / "strats")}
    doc = json_of(invoke("backtest", "--data", "data", "--strategy", "NewsProbe", "--json",
                         env=env))
    assert doc["strategy"] == "NewsProbe"
    assert doc["strategy_params"]["params"]["wait"] == {"value": 0, "source": "default"}
    err = one_line_error(invoke("backtest", "--data", "data", "--strategy", "Nope",
                                "--strategy-path", "strats"), "unknown strategy 'Nope'")
    assert "NewsProbe" in err


@pytest.mark.parametrize("args,needle", [
    (["--fee", "-1"], "--fee -1: must be a fraction in [0, 0.1)"),
    (["--fee", "0.1"], "--fee 0.1"),
    (["--maker-fee", "-0.001"], "--maker-fee"),
    (["--max-open-trades", "0"], "--max-open-trades 0: use -1 (unlimited) or at least 1"),
    (["--max-open-trades", "-3"], "--max-open-trades -3"),
    (["--news-delay", "5"], "--scorer and --news-delay need --news"),
    (["--news", "n.jsonl", "--news-delay", "-5"], "--news-delay -5: must be >= 0"),
    (["--news", "n.jsonl", "--scorer", "nope"], "--scorer 'nope'"),
    (["--news", "absent.jsonl"], "absent.jsonl cannot be read"),
    (["--news", "db"], "does not exist"),
])
def test_bad_inputs_are_one_line(folder: Path, args: list[str], needle: str) -> None:
    write_news(folder / "n.jsonl", [{"published_at": "2025-01-01T00:13:00Z", "title": "x"}])
    env = {"SENTITRADE_DATABASE__URL": f"sqlite:///{folder / 'nodb.sqlite'}"}
    one_line_error(invoke("backtest", "--data", "data", *args, env=env), needle)
    assert not (folder / "nodb.sqlite").exists()


def _bad(c: Candles, col: str, i: int, v: float) -> Candles:
    arr = getattr(c, col).copy()
    arr[i] = v
    return Candles(**{**{f: getattr(c, f) for f in c.__slots__}, col: arr})


def _reorder(c: Candles, order: list[int]) -> Candles:
    idx = np.array(order)
    return Candles(c.symbol, c.timeframe, *(getattr(c, f)[idx] for f in
                                            ("open_time", "open", "high", "low", "close",
                                             "volume")))


@pytest.mark.parametrize("make,needle", [
    (lambda c: _bad(c, "close", 7, float("nan")), "row 8 (2025-01-01T00:35:00Z): close is nan"),
    (lambda c: _bad(c, "low", 3, -1e308), "row 4 (2025-01-01T00:15:00Z): low is -1e+308"),
    (lambda c: _bad(c, "high", 5, float("inf")), "row 6 (2025-01-01T00:25:00Z): high is inf"),
    (lambda c: _bad(c, "open", 2, 0.0), "row 3 (2025-01-01T00:10:00Z): open is 0"),
    (lambda c: _bad(c, "open", 2, 1e300), "above 1e+12"),
    (lambda c: _bad(c, "high", 9, 1.0), "row 10 (2025-01-01T00:45:00Z): high/low inconsistent"),
    (lambda c: _reorder(c, [0, 1, 3, 2, *range(4, 40)]), "row 4 (2025-01-01T00:10:00Z): its time is earlier"),
    (lambda c: _reorder(c, [0, 1, 2, 2, *range(3, 40)]), "row 4 (2025-01-01T00:10:00Z): its time duplicates"),
    (lambda c: _bad(c, "volume", 1, -4.0), "row 2 (2025-01-01T00:05:00Z): volume is -4"),
])
def test_bad_candles_name_the_pair_and_first_bad_row(folder: Path, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    write_csv(folder / "data", make(flat("ETH/USDT")))
    err = one_line_error(invoke("backtest", "--data", "data", "--pairs", "BTC/USDT,ETH/USDT"),
                         needle)
    assert "ETH/USDT: candle" in err and "--repair" in err
    # --repair drops or merges and runs, saying what it changed
    doc = json_of(invoke("backtest", "--data", "data", "--pairs", "BTC/USDT,ETH/USDT",
                         "--repair", "--json"))
    assert doc["repairs"] and doc["repairs"][0].startswith("ETH/USDT: --repair")
    assert doc["candles"] >= 78


def test_news_db_reads_what_the_live_pipeline_stored(folder: Path) -> None:
    """The same headlines through the database give the same trades as the file."""
    from engine.data.news import save_items, score_pending
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade
    from sentiment.items import RawItem
    from sentiment.scorers import make_scorer
    from sentiment.symbols import SymbolTagger

    for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        write_csv(folder / "data", wave(s))
    rows = [("2025-01-01T02:13:00Z", "Bitcoin surges to a record as ETF inflows soar"),
            ("2025-01-01T03:31:00Z", "Ethereum plunges after exchange hack"),
            ("2025-01-01T04:02:00Z", "Solana rallies on new partnership"),
            ("2025-01-01T04:40:00Z", "Bitcoin slides as regulators sue exchange"),
            ("2025-01-01T06:40:00Z", "Bitcoin soars, bulls cheer record inflows")]
    news = write_news(folder / "n.jsonl", [{"published_at": t, "title": x} for t, x in rows])
    url = f"sqlite:///{folder / 'live.db'}"
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    tagger = SymbolTagger()
    items = [RawItem(source="file", source_kind="news", url="", title=x, summary="",
                     published_at=datetime.fromisoformat(t), fetched_at=datetime.fromisoformat(t),
                     symbols=tagger.tag(x)) for t, x in rows]
    save_items(sessions, items)
    asyncio.run(score_pending(sessions, make_scorer("lexicon")))
    sessions.engine.dispose()
    args = ["backtest", "--data", "data", "--strategy", "sentiment_momentum",
            "--news-delay", "30", "--json"]
    env = {"SENTITRADE_DATABASE__URL": url}
    from_db = json_of(invoke(*args, "--news", "db", env=env))
    from_file = json_of(invoke(*args, "--news", str(news), env=env))
    assert from_db["news"]["headlines"] == 5 and from_db["news"]["cache"] == "database"
    assert len(from_file["trades"]) >= 2
    assert from_db["trades"] == from_file["trades"]
    assert {t["pair"] for t in from_file["trades"]} >= {"BTC/USDT", "ETH/USDT"}
