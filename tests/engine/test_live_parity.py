"""Live = backtest: a replay through the live engine (paper broker, `auto` approvals, the
backtester's fee, stake and slot rules) makes exactly the backtester's trades.

Same entries and exits, at the same candles, rates, amounts and exit reasons. The
strategy is asked on each closed candle by the live runtime (a trailing window of
`history_candles`), by the backtester once over the whole series; the two agree only
if the runtime is exact. The rules that cannot match by nature are named where they
are set aside (`tests/engine/parity.py`: the last candle; the force exit at the end).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from engine.backtest._paths import shared_data
from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from engine.data.news import save_items, score_pending
from engine.data.newsbook import agg_params, load_news
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from sentiment.items import RawItem
from sentiment.lexicon import LexiconScorer
from sentiment.symbols import SymbolTagger
from tests.engine.parity import (
    assert_same_trades,
    backtest_rows,
    live_rows,
    parity_settings,
    replay_live,
)

DATA = shared_data()
TESTDATA = DATA / "ohlcv" / "freqtrade_testdata"
BINANCE = DATA / "ohlcv" / "binance_spot_5m_2025"
NEWS = DATA / "news" / "crypto_headlines_2025.jsonl.gz"
needs_data = pytest.mark.skipif(not TESTDATA.is_dir() or not BINANCE.is_dir(),
                                reason=f"shared data not found at {DATA}")


PAIRS_ALL = ["ADA/BTC", "DASH/BTC", "ETC/BTC", "ETH/BTC", "LTC/BTC", "NXT/BTC", "TRX/BTC",
             "XLM/BTC", "XMR/BTC", "ZEC/BTC"]
PAIRS_QUICK = PAIRS_ALL if os.environ.get("PARITY_ALL_PAIRS") else PAIRS_ALL[:2]


def _last_open(candles: dict) -> dict[str, int]:
    return {p: int(c.open_time[-1]) for p, c in candles.items()}


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("pairs", [PAIRS_QUICK], ids=["5-pairs"])
async def test_ema_rsi_cross_on_freqtrades_testdata(tmp_path: Path, pairs: list[str]) -> None:
    """Freqtrade's test data with a 2 % stop (the reference list `*_sl2` exists for it):
    exit signals and stops both occur. PARITY_ALL_PAIRS=1 runs all ten pairs."""
    candles = load_candles(TESTDATA, pairs, "5m")
    bt = run_backtest(candles, "ema_rsi_cross", stake=0.05, fee=0.001, wallet=1_000_000.0,
                      max_open_trades=-1, params={"stoploss": -0.02}, compute_metrics=False)
    settings = parity_settings(f"sqlite:///{tmp_path / 'live.db'}", TESTDATA, pairs,
                               "ema_rsi_cross", "BTC", "0.05", params={"stoploss": -0.02})
    eng = await replay_live(settings, pairs)
    live = live_rows(eng)
    eng.sessions.engine.dispose()
    assert len(bt.trades) > 100 * len(pairs)  # a real workload, not an empty one
    reasons = {str(r) for r in bt.trades.exit_reason}
    assert {"ema_cross_down", "stop_loss"} <= reasons  # exit signals and stops both
    assert_same_trades(live, backtest_rows(bt), _last_open(candles))


def _month_of_news(path: Path, start: datetime, end: datetime) -> list[RawItem]:
    tagger = SymbolTagger()
    out: list[RawItem] = []
    with gzip.open(NEWS, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            ts = datetime.fromisoformat(r["published_at"].replace("Z", "+00:00"))
            if not start <= ts < end:
                continue
            title = r["title"].strip()
            out.append(RawItem(source=r.get("source", ""), source_kind="rss", url="",
                               title=title, summary="", published_at=ts, fetched_at=ts,
                               symbols=tagger.tag(title)))
    return out


@needs_data
@pytest.mark.slow
async def test_sentiment_fusion_with_a_month_of_news(tmp_path: Path) -> None:
    """sentiment_fusion over January 2025's five Binance pairs with that month's real
    headlines stored in the database: the live engine reads them through its NewsBook,
    the backtester through `--news db`'s loader; same items, same aggregation."""
    pairs = ["BNB/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
    start = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
    end = datetime.fromisoformat("2025-02-01T00:00:00+00:00")
    s_ms, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    # a day before the first candle too: the aggregate looks back 16 hours
    items = _month_of_news(NEWS, datetime.fromisoformat("2024-12-31T00:00:00+00:00"), end)
    save_items(sessions, items)
    while await score_pending(sessions, LexiconScorer(), limit=5000):
        pass
    settings = parity_settings(url, BINANCE, pairs, "sentiment_fusion", "USDT", "1000",
                               params={"entry_threshold": 0.3})
    news, _ = load_news(sessions, settings.sentiment.scorer)
    assert sum(len(v) for k, v in news.items() if k in ("BTC", "ETH", "SOL")) > 500
    candles = {p: c.between(s_ms, e_ms) for p, c in load_candles(BINANCE, pairs, "5m").items()}
    bt = run_backtest(candles, "sentiment_fusion", stake=1000.0, fee=0.001,
                      wallet=1_000_000.0, max_open_trades=-1, news=news,
                      agg=agg_params(settings), params={"entry_threshold": 0.3},
                      compute_metrics=False)
    eng = await replay_live(settings, pairs, start_ms=s_ms, end_ms=e_ms)
    live = live_rows(eng)
    eng.sessions.engine.dispose()
    sessions.engine.dispose()
    assert len(bt.trades) > 50
    without = run_backtest(candles, "sentiment_fusion", stake=1000.0, fee=0.001,
                             wallet=1_000_000.0, params={"entry_threshold": 0.3},
                             compute_metrics=False)
    assert len(without.trades) != len(bt.trades)  # the news did change the decisions
    assert_same_trades(live, backtest_rows(bt), _last_open(candles))


@needs_data
async def test_each_bot_on_its_own_timeframe_in_a_replay(tmp_path: Path) -> None:
    """A 5m bot and a 15m bot in one replay (the 15m candles built from the 5m files):
    each makes exactly its own backtest's trades."""
    from sqlmodel import select

    from engine.data.resample import resample
    from engine.storage.config import BotSpec
    from engine.storage.models import Bot

    pairs = ["ETH/BTC", "LTC/BTC"]
    base = load_candles(TESTDATA, pairs, "5m")
    s_ms = int(base["ETH/BTC"].open_time[0])
    e_ms = s_ms + 10 * 86_400_000
    settings = parity_settings(f"sqlite:///{tmp_path / 'tf.db'}", TESTDATA, pairs,
                               "ema_rsi_cross", "BTC", "0.05", params={"stoploss": -0.02})
    b15 = BotSpec(name="slow", strategy="ema_rsi_cross", symbols=pairs, timeframe="15m",
                  params={"stoploss": -0.02})
    settings = settings.model_copy(update={"bots": [*settings.bots, b15]})
    eng = await replay_live(settings, pairs, start_ms=s_ms, end_ms=e_ms, timeframes=["5m", "15m"])
    with eng.sessions() as s:
        ids = {b.name: b.id for b in s.exec(select(Bot)).all()}
    for name, tf, candles in (
            ("parity", "5m", {p: c.between(s_ms, e_ms) for p, c in base.items()}),
            ("slow", "15m", {p: resample(c.between(s_ms, e_ms), "15m")
                             for p, c in base.items()})):
        bt = run_backtest(candles, "ema_rsi_cross", stake=0.05, fee=0.001, wallet=1e6,
                          params={"stoploss": -0.02}, compute_metrics=False)
        assert len(bt.trades) > 10, name
        live = live_rows(eng, tf_ms=5 * 60_000 if tf == "5m" else 15 * 60_000,
                         bot_id=ids[name])
        assert_same_trades(live, backtest_rows(bt), _last_open(candles))
    eng.sessions.engine.dispose()
