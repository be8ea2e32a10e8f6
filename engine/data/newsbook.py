"""Stored, scored news read point in time: the live engine's and `/sentiment`'s source.

`NewsBook` loads the scored items of the configured scorer from the database once per
news poll and answers, for a symbol and an instant, the sentiment columns of the one
aggregation (`sentiment.pointintime.columns_at`), the same function the backtester
runs over a news file or the same database (`--news db`). The engine stores the values
it computed for each closed candle in the strategy's history, so a later refresh never
rewrites what a past decision saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from engine.storage.config import Settings
from sentiment.aggregate import MARKET, base_symbol
from sentiment.pointintime import AggParams, NewsItem, NewsSeries, columns_one

log = logging.getLogger(__name__)


def agg_params(settings: Settings) -> AggParams:
    """The aggregation's parameters from the settings (one place for every reader)."""
    s = settings.sentiment
    return AggParams.make(s.half_life_minutes, s.lookback_half_lives,
                          float(settings.engine.event_window_minutes), s.source_weights)


# event names older scorers and hand-made rows use -> the research table's types
EVENT_ALIASES = {"hack": "hack/exploit", "exploit": "hack/exploit", "listing": "partnership",
                 "whale": "market", "etf": "market", "upgrade": "technical", "fork": "technical"}


def _ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Headline:
    published_at: datetime
    source: str
    title: str
    score: float
    event_type: str
    symbols: frozenset[str] = frozenset()
    impact: int = 1
    item_id: int = 0


def load_news(sessions: Callable[[], Session], scorer: str, fallback: str | None = "lexicon",
              until: datetime | None = None) -> tuple[dict[str, list[NewsItem]], list[Headline]]:
    """Scored items by base asset (each item under every asset it names; `MARKET` when
    none), preferring `scorer`'s score over `fallback`'s; plus the headlines."""
    from engine.data.news import scored_rows

    best = scored_rows(sessions, scorer, fallback=fallback, until=until)
    by_base: dict[str, list[NewsItem]] = {}
    heads: list[Headline] = []
    for item, sc in best:
        row = NewsItem(_ms(item.published_at), float(sc.score), float(sc.confidence),
                       item.source_kind, EVENT_ALIASES.get(sc.event_type, sc.event_type),
                       int(sc.impact))
        syms = {base_symbol(x) for x in (sc.symbols or item.symbols or ())} or {MARKET}
        for b in syms:
            by_base.setdefault(b, []).append(row)
        heads.append(Headline(item.published_at, item.source, item.title, float(sc.score),
                              row.event_type, frozenset(syms), int(sc.impact), item.id or 0))
    return by_base, heads


class NewsBook:
    """In-memory index of the stored news; `refresh()` after each poll."""

    def __init__(self, sessions: Callable[[], Session], settings: Settings) -> None:
        self.sessions = sessions
        self.scorer = settings.sentiment.scorer
        self.params = agg_params(settings)
        self.delay_ms = round(settings.engine.news_delay_seconds * 1000)
        self._items: dict[str, list[NewsItem]] = {}
        self._series: dict[str, NewsSeries] = {}
        self.headlines: list[Headline] = []
        self._seen: set[int] | None = None

    def refresh(self) -> list[Headline]:
        """Reload; returns the headlines that arrived since the last refresh (none on
        the first: what was stored before the start is history, not news)."""
        try:
            self._items, self.headlines = load_news(self.sessions, self.scorer)
        except Exception:  # a broken read must not stop trading: keep the last view
            log.exception("news could not be reloaded; keeping the previous view")
            return []
        self._series = {}
        ids = {h.item_id for h in self.headlines}
        new = [] if self._seen is None else [h for h in self.headlines
                                              if h.item_id not in self._seen]
        self._seen = ids
        return new

    def series(self, symbol: str) -> NewsSeries:
        key = base_symbol(symbol)
        ser = self._series.get(key)
        if ser is None:
            ser = NewsSeries(self._items.get(key, ()), delay_ms=self.delay_ms)
            self._series[key] = ser
        return ser

    def columns(self, symbol: str, close_ms: int, recent_ms: int) -> dict[str, float]:
        """The frame's sentiment columns for the candle of `symbol` closing at `close_ms`."""
        return columns_one(self.series(symbol), close_ms, self.params, recent_ms=recent_ms)

    def about(self, symbol: str, limit: int = 5) -> list[Headline]:
        """The newest headlines naming `symbol` (for `/sentiment`)."""
        base = base_symbol(symbol)
        out: list[Headline] = []
        for h in reversed(self.headlines):
            if base in h.symbols:
                out.append(h)
                if len(out) >= limit:
                    break
        return out
