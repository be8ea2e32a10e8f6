"""Read-only SQL the commands need beyond `TradingAPI` (plus the chat's own user prefs).

Reports (/trades, /profit, /daily, /performance, /signals, /sentiment, /logs) read the
engine's tables directly: they are history, and going through the engine for them
would only add a copy. Nothing here writes engine state; `save_alert_prefs` writes the
`users` row, which belongs to the chat layer (per-user alert preferences).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import (
    OutboxDelivery,
    RiskEvent,
    Signal,
    Trade,
    User,
)


def closed_trades(sessions: SessionFactory, limit: int | None = None,
                  since: datetime | None = None) -> list[Trade]:
    """Closed trades, newest first."""
    with sessions() as s:
        q = select(Trade).where(col(Trade.is_open).is_(False))
        if since is not None:
            q = q.where(col(Trade.close_at) >= since)
        q = q.order_by(col(Trade.close_at).desc(), col(Trade.id).desc())
        if limit is not None:
            q = q.limit(limit)
        return list(s.exec(q).all())


@dataclass(frozen=True, slots=True)
class PeriodPnl:
    start: datetime
    trades: int
    pnl: Decimal


def pnl_by_period(sessions: SessionFactory, unit: str, count: int,
                  now: datetime | None = None) -> list[PeriodPnl]:
    """Realised PnL per day/week/month for the last `count` periods, newest first."""
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts: list[datetime] = []
    if unit == "day":
        starts = [today - timedelta(days=i) for i in range(count)]
    elif unit == "week":
        monday = today - timedelta(days=today.weekday())
        starts = [monday - timedelta(weeks=i) for i in range(count)]
    else:
        y, m = today.year, today.month
        for _ in range(count):
            starts.append(today.replace(year=y, month=m, day=1))
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    oldest = starts[-1]
    rows = closed_trades(sessions, since=oldest)
    buckets: dict[datetime, list[Decimal]] = defaultdict(list)
    for t in rows:
        if t.close_at is None:
            continue
        for st in starts:  # newest first: first start <= close_at wins
            if t.close_at >= st:
                buckets[st].append(t.realized_pnl or Decimal(0))
                break
    return [PeriodPnl(st, len(buckets[st]), sum(buckets[st], Decimal(0))) for st in starts]


@dataclass(frozen=True, slots=True)
class SymbolPerf:
    symbol: str
    trades: int
    pnl: Decimal
    wins: int


def performance(sessions: SessionFactory) -> list[SymbolPerf]:
    """Realised PnL per symbol over all closed trades, best first."""
    agg: dict[str, list[Decimal]] = defaultdict(list)
    for t in closed_trades(sessions):
        agg[t.symbol].append(t.realized_pnl or Decimal(0))
    out = [SymbolPerf(sym, len(v), sum(v, Decimal(0)), sum(1 for x in v if x > 0))
           for sym, v in agg.items()]
    return sorted(out, key=lambda p: p.pnl, reverse=True)


def recent_signals(sessions: SessionFactory, limit: int) -> list[Signal]:
    with sessions() as s:
        q = select(Signal).order_by(col(Signal.ts).desc(), col(Signal.id).desc()).limit(limit)
        return list(s.exec(q).all())


@dataclass(frozen=True, slots=True)
class SentimentView:
    symbol: str
    score: float | None
    items: int
    headlines: list[tuple[datetime, str, str, float]]  # published, source, title, score
    confidence: float = 0.0
    events: dict[str, int] | None = None


def sentiment_for(sessions: SessionFactory, settings: Settings, base: str,
                  now: datetime | None = None, top: int = 5,
                  book: Any | None = None) -> SentimentView:
    """The pair's sentiment now, by the one point-in-time aggregation the strategies and
    backtests read (`engine.data.newsbook`), with the newest headlines behind it.

    `book`: the engine's own NewsBook (reloaded after each news poll) when there is one;
    else the stored news are read here."""
    from engine.data.newsbook import NewsBook

    now = now or utcnow()
    if not isinstance(book, NewsBook):
        book = NewsBook(sessions, settings)
        book.refresh()
    cols = book.columns(base, round(now.timestamp() * 1000), 0)
    heads = [(h.published_at, h.source, h.title, h.score)
             for h in book.about(base, 50) if h.published_at <= now][:top]
    score = cols["sentiment"]
    events = {k.removeprefix("event_"): int(v) for k, v in cols.items()
              if k.startswith("event_") and v}
    return SentimentView(base, None if score != score else score, int(cols["news_count"]),
                         heads, cols["sentiment_confidence"], events)


def recent_risk_events(sessions: SessionFactory, limit: int) -> list[RiskEvent]:
    with sessions() as s:
        q = select(RiskEvent).order_by(col(RiskEvent.created_at).desc()).limit(limit)
        return list(s.exec(q).all())


def failed_deliveries(sessions: SessionFactory, limit: int) -> list[OutboxDelivery]:
    with sessions() as s:
        q = (select(OutboxDelivery).where(col(OutboxDelivery.last_error).is_not(None))
             .order_by(col(OutboxDelivery.id).desc()).limit(limit))
        return list(s.exec(q).all())


def get_user(sessions: SessionFactory, transport: str, external_id: str) -> User | None:
    with sessions() as s:
        return s.exec(select(User).where(User.transport == transport,
                                         User.external_id == external_id)).first()


def save_alert_prefs(sessions: SessionFactory, transport: str, external_id: str,
                     name: str, role: str, enabled: bool, types: list[str]) -> User:
    """Create or update the caller's `users` row with their alert preferences."""
    with sessions.begin() as s:
        user = s.exec(select(User).where(User.transport == transport,
                                         User.external_id == external_id)).first()
        if user is None:
            user = User(transport=transport, external_id=external_id, display_name=name,
                        role=role)
        user.alerts_enabled = enabled
        user.alert_types = list(types)
        user.role = role
        s.add(user)
        s.flush()
        s.refresh(user)
        return user
