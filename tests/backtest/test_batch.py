"""Batched hyperopt evaluation for any strategy: the same stats as a backtest per set.

sentiment_fusion over three weeks of the 2025 Binance candles with the real headlines of
those weeks (sliced from the reference news file, scored by the default scorer)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.backtest.batch import STAT_NAMES, FrameEvaluator, SingleEvaluator
from engine.backtest.hyperopt import run_hyperopt
from engine.backtest.runner import run_backtest
from engine.data.candles import Candles, load_candles
from engine.data.newsfile import load_news_file
from engine.strategy import get_strategy, load_strategy
from sentiment.pointintime import AggParams
from tests.backtest.clidata import VANDAL
from tests.backtest.conftest import BINANCE, DATA, need

NEWS = DATA / "news" / "crypto_headlines_2025.jsonl.gz"
START, END = 1_735_689_600_000, 1_737_504_000_000  # 2025-01-01 .. 2025-01-22
SETS = [
    {},
    {"entry_threshold": 0.2, "sentiment_weight": 0.9, "tech_weight": 0.3, "stoploss": -0.03},
    {"ema_fast": 7, "ema_slow": 40, "rsi_period": 9, "event_exit": False,
     "exit_threshold": 0.1, "spread_scale": 0.15},
]
BT = {"stake": 1000.0, "fee": 0.001, "wallet": 100_000.0, "news_delay_s": 60.0,
      "agg": AggParams.make(source_weights={"news": 0.2})}


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Candles], dict]:
    need(NEWS)
    candles = {p: c.between(START, END)
               for p, c in load_candles(need(BINANCE), ["BTC/USDT", "ETH/USDT"], "5m").items()}
    d = tmp_path_factory.mktemp("news")
    with gzip.open(NEWS, "rt", encoding="utf-8") as fh:
        rows = [line for line in fh if json.loads(line)["published_at"] < "2025-01-22"]
    (d / "weeks.jsonl").write_text("".join(rows))
    news = load_news_file(d / "weeks.jsonl", "lexicon", cache_dir=d / "cache")
    assert news.counts.by_symbol["BTC"] > 100 and news.counts.by_symbol["ETH"] > 100
    return candles, news.by_base


def test_frames_equal_single_runs_equal_backtests(weeks) -> None:  # type: ignore[no-untyped-def]
    candles, news = weeks
    strat = get_strategy("sentiment_fusion")
    frames = FrameEvaluator(candles, strat, jobs=2, news=news, **BT).evaluate(
        [dict(s) for s in SETS], -0.05)
    single = SingleEvaluator(candles, strat, news=news, **BT).evaluate(
        [dict(s) for s in SETS], -0.05)
    without = FrameEvaluator(candles, strat, jobs=1, **BT).evaluate([dict(s) for s in SETS],
                                                                    -0.05)
    for s, a, b, c in zip(SETS, frames, single, without, strict=True):
        p = dict(s)
        sl = p.pop("stoploss", -0.05)
        m = run_backtest(candles, "sentiment_fusion", params=p, stoploss=sl, news=news,
                         **BT).metrics
        assert m["total_trades"] > 5, s
        for name, x, y in zip(STAT_NAMES, a, b, strict=True):
            assert x == pytest.approx(y, rel=1e-6, abs=1e-7), (s, name)
            assert x == pytest.approx(m[name], rel=1e-6, abs=1e-7), (s, name)
        assert tuple(a) != tuple(c)  # the news changed this set's result
    assert strat.entry_threshold == 0.35  # the template instance is never modified


def test_hyperopt_with_news_batched_equals_unbatched(weeks) -> None:  # type: ignore[no-untyped-def]
    candles, news = weeks
    kw = {"epochs": 8, "batch": 4, "seed": 5, "news": news, "min_trades": 3,
          "oos_fraction": 0.3, **{k: v for k, v in BT.items() if k != "news_delay_s"},
          "news_delay_s": BT["news_delay_s"]}
    a = run_hyperopt(candles, "sentiment_fusion", evaluator="frames", **kw)
    b = run_hyperopt(candles, "sentiment_fusion", evaluator="single", **kw)
    assert (a["evaluator"], b["evaluator"]) == ("frames", "single")
    assert a["best"]["params"] == b["best"]["params"]
    assert a["best"]["loss"] == pytest.approx(b["best"]["loss"], rel=1e-9)
    assert a["out_of_sample"] == b["out_of_sample"] and a["in_sample"]["total_trades"] >= 3


def test_a_strategy_writing_its_inputs_falls_back_to_single_runs(
        weeks, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    candles, _ = weeks
    (tmp_path / "vandal.py").write_text(VANDAL)
    strat = load_strategy("Vandal", tmp_path).strategy
    res = run_hyperopt(candles, strat, epochs=3, batch=3, seed=0)
    assert res["evaluator"] == "single" and res["trials"] == 3
    assert "batched evaluation off" in res["notes"][0]


def test_walk_forward_takes_a_loaded_strategy_and_news(weeks) -> None:  # type: ignore[no-untyped-def]
    from engine.backtest.walkforward import walk_forward

    candles, news = weeks
    strat = get_strategy("sentiment_fusion")
    res = walk_forward(candles, strat, folds=2, epochs=4, seed=1, news=news, min_trades=0,
                       stake=1000.0, fee=0.001, wallet=100_000.0)
    assert [f["fold"] for f in res["folds"]] == [0, 1]
    assert all(f["test"][0] == f["train"][1] for f in res["folds"])
    assert strat.entry_threshold == 0.35
