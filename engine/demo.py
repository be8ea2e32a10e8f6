"""`sentitrade demo`: the service's main job on embedded defaults, offline.

Replays the embedded sample candles (or `exchange.replay_data`), stores the demo
headlines and one Signal per EMA/RSI cross, and summarises what it did.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlmodel import select

from engine.candles import DEMO_DATA_DIR, Candles, load_candles
from engine.config import Settings
from engine.db import SessionFactory, make_engine
from engine.migrate import upgrade
from engine.models import NewsItem, Signal

DEMO_HEADLINES = DEMO_DATA_DIR / "demo_headlines.csv"
_DEMO_ALIASES = (("BTC", ("bitcoin", "btc")), ("ETH", ("ether", "eth")))


@dataclass
class SymbolSummary:
    symbol: str
    candles: int
    first: datetime
    last: datetime
    first_close: float
    last_close: float
    signals_long: int = 0
    signals_exit: int = 0


@dataclass
class DemoSummary:
    database: str
    symbols: list[SymbolSummary] = field(default_factory=list)
    headlines_stored: int = 0
    headlines_total: int = 0
    signals_stored: int = 0


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def load_demo_headlines(path: Path = DEMO_HEADLINES) -> list[NewsItem]:
    """The embedded demo headlines as unsaved NewsItem rows."""
    rows: list[NewsItem] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            title = r["title"].strip()
            key = hashlib.sha256(f"demo:{title}".encode()).hexdigest()
            rows.append(
                NewsItem(
                    dedup_key=key,
                    title_hash=hashlib.sha256(title.lower().encode()).hexdigest(),
                    source=r["source"],
                    source_kind=r["source_kind"],
                    title=title,
                    published_at=datetime.fromisoformat(r["published_at"].replace("Z", "+00:00")),
                    symbols=[s for s, words in _DEMO_ALIASES
                             if any(w in title.lower() for w in words)],
                )
            )
    return rows


def cross_signals(c: Candles) -> list[tuple[int, str, float, dict[str, float]]]:
    """EMA(12/26) crosses with an RSI(14) filter: (index, direction, strength, inputs)."""
    from engine.indicators import ema, rsi

    fast, slow, r = ema(c.close, 12), ema(c.close, 26), rsi(c.close, 14)
    up = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1]) & (r[1:] < 70)
    down = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
    out: list[tuple[int, str, float, dict[str, float]]] = []
    for i in np.flatnonzero(up | down) + 1:
        direction = "long" if up[i - 1] else "exit"
        spread = float((fast[i] - slow[i]) / slow[i])
        inputs = {"ema_fast": float(fast[i]), "ema_slow": float(slow[i]), "rsi": float(r[i])}
        out.append((int(i), direction, min(1.0, abs(spread) * 100), inputs))
    return out


def run_demo(settings: Settings) -> DemoSummary:
    """Migrate, ingest the sample, store signals; safe to run again (rows are unique)."""
    url = settings.database.url
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    data = settings.exchange.replay_data or DEMO_DATA_DIR
    symbols = sorted({s for b in settings.bots for s in b.symbols})
    timeframe = settings.bots[0].timeframe if settings.bots else "5m"
    candles = load_candles(Path(data), symbols, timeframe)
    summary = DemoSummary(database=url)

    items = load_demo_headlines()
    summary.headlines_total = len(items)
    with sessions.begin() as s:
        known = set(s.exec(select(NewsItem.dedup_key)).all())
        for it in items:
            if it.dedup_key not in known:
                s.add(it)
                summary.headlines_stored += 1

    for sym, c in candles.items():
        close_t = c.close_time
        ss = SymbolSummary(sym, len(c), _ms_to_dt(int(close_t[0])), _ms_to_dt(int(close_t[-1])),
                           float(c.close[0]), float(c.close[-1]))
        with sessions() as s:
            seen = set(s.exec(select(Signal.ts).where(Signal.symbol == sym,
                                                      Signal.bot_id == None)).all())  # noqa: E711
        for i, direction, strength, inputs in cross_signals(c):
            ts = _ms_to_dt(int(close_t[i]))
            if ts in seen:  # NULL bot ids are distinct in a UNIQUE: check explicitly
                continue
            if direction == "long":
                ss.signals_long += 1
            else:
                ss.signals_exit += 1
            sig = Signal(symbol=sym, timeframe=c.timeframe, ts=ts,
                         direction=direction, strength=strength, confidence=0.5,
                         technical_score=strength if direction == "long" else -strength,
                         price=Decimal(repr(float(c.close[i]))), inputs=inputs)
            with sessions.begin() as s:
                s.add(sig)
            summary.signals_stored += 1
        summary.symbols.append(ss)
    sessions.engine.dispose()
    return summary
