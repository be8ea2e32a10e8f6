"""Backtests asked for from the chat: the same strategy loading and the same news as
every other mode.

The strategy is found as `run` finds it (built-in or a class in `strategy_path`, with
its `<Strategy>.json` hyperopt parameters), and the backtest sees the news stored in the
database through the one point-in-time aggregation, so a `/backtest` tells what the bot
would have done with what it knew.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from engine.data.candles import DEMO_DATA_DIR, load_candles
from engine.data.newsbook import agg_params, load_news
from engine.errors import SentitradeError
from engine.service.api import BacktestOutput
from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.strategy.params import load_strategy

log = logging.getLogger("sentitrade.engine")
DAY_MS = 86_400_000


def chat_backtest(settings: Settings, sessions: SessionFactory, pair: str, timeframe: str,
                  days: int, strategy: str) -> BacktestOutput:
    """Summary, chart and trade list of one backtest (blocking: run it in a thread)."""
    from engine.backtest import run_backtest
    from engine.backtest.report import render_report_png, summary_dict, write_trades_csv

    if days < 1:
        raise SentitradeError("days must be at least 1")
    loaded = load_strategy(strategy, settings.engine.strategy_path)
    data = settings.exchange.replay_data or DEMO_DATA_DIR
    ex = settings.exchange
    candles = load_candles(Path(data), [pair], timeframe)
    c = candles[pair]
    end = int(c.open_time[-1])
    c = c.between(end - days * DAY_MS, None)
    have_days = len(c) * (int(c.open_time[1] - c.open_time[0]) if len(c) > 1 else 0) / DAY_MS
    news, _ = load_news(sessions, settings.sentiment.scorer)
    result = run_backtest({pair: c}, loaded.strategy, stake="10%", fee=float(ex.taker_fee),
                          maker_fee=float(ex.maker_fee), wallet=float(ex.starting_balance),
                          news=news, news_delay_s=settings.engine.news_delay_seconds,
                          agg=agg_params(settings))
    png: bytes | None
    try:
        png = render_report_png(result)
    except Exception:  # a chart failure must not lose the numbers
        log.exception("backtest chart failed")
        png = None
    with tempfile.TemporaryDirectory() as tmp:
        csv_bytes = write_trades_csv(result, Path(tmp) / "trades.csv").read_bytes()
    summary = summary_dict(result)
    m: dict[str, Any] = summary.get("metrics", {}) or {}

    def num(key: str, fmt: str) -> str:
        v = m.get(key)
        return format(v, fmt) if isinstance(v, int | float) else "n/a"

    short = f" (only {have_days:.0f} days of candles stored)" if have_days < days - 1 else ""
    n_news = sum(len(v) for k, v in news.items() if k == pair.split("/")[0])
    text = (f"backtest {loaded.describe()} on {pair} {timeframe}, last {days} days{short}, "
            f"{n_news} stored headlines: "
            f"{m.get('total_trades', 0)} trades, profit {num('profit_total', '+.2%')}, "
            f"win rate {num('winrate', '.0%')}, max drawdown "
            f"{num('max_relative_drawdown', '.2%')}, sharpe {num('sharpe', '.2f')}")
    return BacktestOutput(summary, png, csv_bytes, text)
