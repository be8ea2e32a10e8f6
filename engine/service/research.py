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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.data.candles import DEMO_DATA_DIR, Candles, load_candles
from engine.data.newsbook import agg_params, load_news
from engine.errors import DataError, SentitradeError
from engine.service.api import BacktestOutput
from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.strategy.params import load_strategy

log = logging.getLogger("sentitrade.engine")
DAY_MS = 86_400_000


def data_sources(settings: Settings) -> list[tuple[str, Path]]:
    """Where the chat's backtests look for candles, first match wins: the replay data
    (`exchange.replay_data`), history downloaded with `sentitrade download-data` in
    Freqtrade's layout (`user_data/data/<exchange id>`), then the embedded sample."""
    out: list[tuple[str, Path]] = []
    if settings.exchange.replay_data is not None:
        out.append(("replay data", Path(settings.exchange.replay_data)))
    out.append(("downloaded history", Path("user_data") / "data" / settings.exchange.id))
    out.append(("the embedded sample", Path(DEMO_DATA_DIR)))
    return out


def find_candles(settings: Settings, pair: str, timeframe: str) -> tuple[str, Path, Candles]:
    """(source name, folder, candles) of the first source holding `pair` on
    `timeframe`; a `DataError` of one line naming where it looked otherwise."""
    looked = []
    for name, folder in data_sources(settings):
        looked.append(f"{name} ({folder})")
        if not folder.exists():
            continue
        try:
            c = load_candles(folder, [pair], timeframe)[pair]
        except DataError:
            continue
        if len(c):
            return name, folder, c
    raise DataError(f"no {pair} {timeframe} candles in {', '.join(looked)}: get them with "
                    f"`sentitrade download-data --pairs {pair} --timeframes {timeframe}`")


def _period(c: Candles) -> str:
    tf = int(c.open_time[1] - c.open_time[0]) if len(c) > 1 else 0
    first = datetime.fromtimestamp(int(c.open_time[0]) / 1000, UTC)
    last = datetime.fromtimestamp((int(c.open_time[-1]) + tf) / 1000, UTC)
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"


def chat_backtest(settings: Settings, sessions: SessionFactory, pair: str, timeframe: str,
                  days: int, strategy: str) -> BacktestOutput:
    """Summary, chart and trade list of one backtest (blocking: run it in a thread).

    The candles come from the configured data (`find_candles`): the last `days` days
    of what is stored, and the text states the period actually used and where it came
    from, so a short file never passes for the period asked for."""
    from engine.backtest import run_backtest
    from engine.backtest.metrics import sharpe_text
    from engine.backtest.report import render_report_png, summary_dict, write_trades_csv

    if days < 1:
        raise SentitradeError("days must be at least 1")
    loaded = load_strategy(strategy, settings.engine.strategy_path)
    ex = settings.exchange
    source, folder, c = find_candles(settings, pair, timeframe)
    end = int(c.open_time[-1])
    c = c.between(end - days * DAY_MS, None)
    if len(c) < 2:
        raise DataError(f"{pair} {timeframe} in {source}: fewer than 2 candles in the "
                        f"last {days} days of what is stored")
    have_days = len(c) * (int(c.open_time[1] - c.open_time[0])) / DAY_MS
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

    short = (f"; {days} days asked, only {have_days:.1f} stored"
             if have_days < days - 1 else "")
    n_news = sum(len(v) for k, v in news.items() if k == pair.split("/")[0])
    text = (f"backtest {loaded.describe()} on {pair} {timeframe}, {_period(c)} "
            f"({have_days:.1f} days from {source}{short}), {n_news} stored headlines: "
            f"{m.get('total_trades', 0)} trades, profit {num('profit_total', '+.2%')}, "
            f"win rate {num('winrate', '.0%')}, max drawdown "
            f"{num('max_drawdown_account', '.2%')}, {sharpe_text(m)}")
    log.debug("chat backtest read %s", folder)
    return BacktestOutput(summary, png, csv_bytes, text)
