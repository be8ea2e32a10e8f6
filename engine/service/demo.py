"""`sentitrade demo`: the whole loop on embedded defaults, offline, in seconds.

Replays the embedded sample candles (BTC/USDT and ETH/USDT 5m, incl. the 10 Oct 2025
crash) on an accelerated clock through the real Engine: lexicon sentiment over the
demo headlines, streaming indicators, fusion, risk checks, `threshold` approvals (small
proposals execute automatically, bigger ones wait for a tap that never comes and
expire), the paper broker, circuit breakers and console alerts. Runs on a fresh
temporary SQLite database unless `database.url` is set to something else than the
default, and ends with a summary.
"""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import func, select

from engine.clock import ManualClock
from engine.data.candles import DEMO_DATA_DIR
from engine.data.news import save_items
from engine.outbox import ConsoleNotifier, Notifier
from engine.service.api import TradingAPI
from engine.storage.config import DatabaseSettings, Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import (
    Fill,
    Order,
    OutboxDelivery,
    Proposal,
    RiskEvent,
    Signal,
    Trade,
)
from sentiment.items import RawItem
from sentiment.symbols import SymbolTagger

DEMO_HEADLINES = DEMO_DATA_DIR / "demo_headlines.csv"
def load_demo_headlines(path: Path = DEMO_HEADLINES) -> list[RawItem]:
    """The embedded demo headlines as fetched items, tagged like any polled item."""
    tagger = SymbolTagger()
    rows: list[RawItem] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            title = r["title"].strip()
            ts = datetime.fromisoformat(r["published_at"].replace("Z", "+00:00"))
            rows.append(RawItem(source=r["source"], source_kind=r["source_kind"], url="",
                                title=title, summary="", published_at=ts, fetched_at=ts,
                                symbols=tagger.tag(title)))
    return rows




@dataclass
class DemoSummary:
    database: str
    period: str = ""
    candles: int = 0
    headlines: int = 0
    signals: dict[str, int] = field(default_factory=dict)
    proposals: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    fills: int = 0
    trades_closed: int = 0
    trades_open: int = 0
    realized_pnl: str = "0"
    starting_equity: str = "0"
    final_equity: str = "0"
    breaker_trips: list[str] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    alerts_delivered: int = 0
    seconds: float = 0.0


async def score_headlines(sessions: SessionFactory) -> int:
    """Score unscored headlines with the sentiment package's lexicon scorer (through
    `engine.data.news`, the same path the service's news poll takes)."""
    from engine.data.news import score_pending
    from sentiment.scorers import make_scorer

    return await score_pending(sessions, make_scorer("lexicon"))


def demo_settings(settings: Settings, db_url: str) -> Settings:
    """The demo's overrides: replay, threshold approvals sized so that some proposals
    pass automatically and some wait, ATR sizing, and a price-spike rule widened to
    5 % in 5 minutes so that 5m candles can show it (the 10 Oct 2025 crash trips it;
    the service default needs sub-minute data: 10 % within 60 s)."""
    risk = settings.risk.model_copy(update={"sizing": "atr", "atr_risk_pct": 0.02,
                                            "price_spike_pct": 5.0,
                                            "price_spike_window_seconds": 300})
    approvals = settings.approvals.model_copy(update={"mode": "threshold",
                                                      "auto_max_notional": Decimal(600)})
    exchange = settings.exchange.model_copy(update={"mode": "replay"})
    bots = [b.model_copy(update={"approval_mode": None}) for b in settings.bots]
    return settings.model_copy(update={"database": DatabaseSettings(url=db_url),
                                       "risk": risk, "approvals": approvals,
                                       "exchange": exchange, "bots": bots})


async def run_demo_async(
    settings: Settings,
    notifiers: Sequence[Notifier] = (),
    interact: Callable[[TradingAPI, DemoSummary], Awaitable[None]] | None = None,
) -> DemoSummary:
    import time

    from engine.data.feeds import ReplayFeed
    from engine.service.engine import Engine
    from engine.service.replay import run_replay

    t0 = time.perf_counter()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    url = settings.database.url
    if url == DatabaseSettings().url:
        tmp = tempfile.TemporaryDirectory(prefix="sentitrade-demo-")
        url = f"sqlite:///{tmp.name}/demo.db"
    st = demo_settings(settings, url)
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    items = load_demo_headlines()
    save_items(sessions, items)  # dedup by key and title hash, as a live poll stores them
    await score_headlines(sessions)
    symbols = sorted({sym for b in st.bots for sym in b.symbols})
    timeframe = st.bots[0].timeframe if st.bots else "5m"
    clock = ManualClock()
    feed = ReplayFeed(st.exchange.replay_data or DEMO_DATA_DIR, symbols, timeframe, clock,
                      speed=st.exchange.replay_speed)
    first = min(int(c.close_time[0]) for c in feed.candles.values())
    clock.set(datetime.fromtimestamp(first / 1000, UTC))
    eng = Engine(st, sessions, clock=clock,
                 notifiers=list(notifiers) or [ConsoleNotifier(echo=False)])
    await eng.start(reconcile=False)
    start_eq = eng.equity()
    await run_replay(eng, feed)
    summary = summarize(eng, url if tmp is None else "(temporary SQLite)", start_eq)
    summary.candles = sum(len(c) for c in feed.candles.values())
    last = max(int(c.close_time[-1]) for c in feed.candles.values())
    summary.period = (f"{datetime.fromtimestamp(first / 1000, UTC):%Y-%m-%d} .. "
                      f"{datetime.fromtimestamp(last / 1000, UTC):%Y-%m-%d}")
    summary.headlines = len(items)
    summary.seconds = round(time.perf_counter() - t0, 2)
    if interact is not None:  # e.g. the console chat over the final state
        await interact(eng, summary)
    await eng.close()
    sessions.engine.dispose()
    if tmp is not None:
        tmp.cleanup()
    return summary


def _count(s: Any, column: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in s.exec(select(column, func.count()).group_by(column)).all()}


def summarize(eng: Any, database: str, start_eq: Decimal) -> DemoSummary:
    out = DemoSummary(database=database)
    with eng.sessions() as s:
        out.signals = _count(s, Signal.direction)
        out.proposals = _count(s, Proposal.state)
        out.orders = _count(s, Order.state)
        out.fills = int(s.exec(select(func.count()).select_from(Fill)).one())
        closed = s.exec(select(Trade).where(Trade.is_open == False)).all()  # noqa: E712
        out.trades_closed = len(closed)
        out.trades_open = int(s.exec(select(func.count()).select_from(Trade)
                                     .where(Trade.is_open == True)).one())  # noqa: E712
        pnl = sum((t.realized_pnl or Decimal(0) for t in closed), Decimal(0))
        out.realized_pnl = f"{pnl:.2f}"
        out.breaker_trips = [f"{e.created_at:%Y-%m-%d %H:%M} {e.rule} {e.measured:.2f} -> "
                             f"{e.action}" for e in s.exec(select(RiskEvent)).all()]
        from engine.storage.models import OutboxMessage

        out.alerts = _count(s, OutboxMessage.kind)
        out.alerts_delivered = int(s.exec(select(func.count()).select_from(OutboxDelivery)
                                          .where(OutboxDelivery.state == "delivered")).one())
        out.final_equity = f"{eng.equity(s):.2f}"
    out.starting_equity = f"{start_eq:.2f}"
    return out


def run_demo(
    settings: Settings,
    notifiers: Sequence[Notifier] = (),
    interact: Callable[[TradingAPI, DemoSummary], Awaitable[None]] | None = None,
) -> DemoSummary:
    """Synchronous entry point for the CLI."""
    return asyncio.run(run_demo_async(settings, notifiers, interact))
