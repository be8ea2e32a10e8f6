"""Per-symbol sentiment at an instant: time-decayed, source-weighted, point-in-time.

`Aggregator.at(symbol, ts)` only ever reads items published at or before `ts`, so the
backtester (replaying history) and the live engine (asking "now") call the same code and
get the same answer for the same instant: no look-ahead.

Weighting, per item: ``0.5 ** (age / half_life) * max(confidence, 0.05)`` within its
source kind; then the per-source means are combined with the source weights (defaults
twitter .35, reddit .25, telegram .20, trends .20; news kinds .20), renormalised over the
kinds that have items. Confidence is agreement: ``max(0, 1 - 2 * weighted std)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from sentiment.config import DEFAULT_SOURCE_WEIGHTS, SentimentSettings
from sentiment.items import ScoredItem
from sentiment.pointintime import AggParams, NewsItem, NewsSeries, columns_at

__all__ = ["MARKET", "Aggregator", "SymbolSentiment", "base_symbol"]

AggLabel = Literal["BULLISH", "BEARISH", "NEUTRAL"]
MARKET = "*"  # items that name no coin: market-wide mood
_MIN_CONF = 0.05


def base_symbol(symbol: str) -> str:
    """`BTC/USDT`, `BTC-USD`, `btc` -> `BTC` (the engine passes market symbols)."""
    s = symbol.strip().upper()
    for sep in ("/", "-", ":"):
        if sep in s:
            s = s.split(sep, 1)[0]
    return s


@dataclass(frozen=True, slots=True)
class SymbolSentiment:
    """What the crowd and the press feel about `symbol` at `ts`."""

    symbol: str
    ts: datetime
    score: float
    confidence: float
    label: AggLabel
    n_items: int
    by_source: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "ts": self.ts.isoformat(),
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "label": self.label,
            "n_items": self.n_items,
            "by_source": {k: round(v, 4) for k, v in self.by_source.items()},
        }


def _epoch(ts: datetime, what: str) -> float:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {ts.isoformat()}")
    return ts.timestamp()


class Aggregator:
    """Holds scored items and answers `at(symbol, ts)`; `add` more as they arrive.

    The numbers come from `sentiment.pointintime.columns_at`, the aggregation that the
    backtester and the live engine use too."""

    def __init__(
        self,
        items: Iterable[ScoredItem] = (),
        *,
        half_life_minutes: float = 120.0,
        source_weights: Mapping[str, float] | None = None,
        threshold: float = 0.3,
        lookback_half_lives: float = 8.0,
    ) -> None:
        if half_life_minutes <= 0:
            raise ValueError("half_life_minutes must be > 0")
        if not 0 < threshold < 1:
            raise ValueError("threshold must be in (0, 1)")
        weights = dict(DEFAULT_SOURCE_WEIGHTS if source_weights is None else source_weights)
        if any(w < 0 for w in weights.values()):
            raise ValueError("source weights must be >= 0")
        self.params = AggParams.make(half_life_minutes, lookback_half_lives,
                                     source_weights=weights)
        self._threshold = threshold
        self._items: dict[str, list[NewsItem]] = {}
        self._series: dict[str, NewsSeries] = {}
        self.add(items)

    @classmethod
    def from_settings(
        cls, items: Iterable[ScoredItem], settings: SentimentSettings
    ) -> Aggregator:
        """Build with the `[sentiment]` section's half-life, weights and threshold."""
        return cls(
            items,
            half_life_minutes=settings.half_life_minutes,
            source_weights=settings.source_weights,
            threshold=settings.label_threshold,
            lookback_half_lives=settings.lookback_half_lives,
        )

    def add(self, items: Iterable[ScoredItem]) -> None:
        """Index items under each symbol they mention (or `MARKET` if none)."""
        for it in items:
            t = round(_epoch(it.published_at, "published_at") * 1000)
            row = NewsItem(t, float(it.score), float(it.confidence), it.source_kind)
            for sym in it.symbols or (MARKET,):
                key = MARKET if sym == MARKET else base_symbol(sym)
                self._items.setdefault(key, []).append(row)
                self._series.pop(key, None)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._items)

    def series_for(self, symbol: str) -> NewsSeries:
        """The symbol's items as the arrays `columns_at` reads (built once per change)."""
        key = MARKET if symbol == MARKET else base_symbol(symbol)
        ser = self._series.get(key)
        if ser is None:
            ser = NewsSeries(self._items.get(key, ()))
            self._series[key] = ser
        return ser

    def at(self, symbol: str, ts: datetime) -> SymbolSentiment:
        """Sentiment of `symbol` using only items published at or before `ts`."""
        t = round(_epoch(ts, "ts") * 1000)
        key = MARKET if symbol == MARKET else base_symbol(symbol)
        ser = self.series_for(key)
        cols = columns_at(ser, [t], self.params)
        n = int(cols["news_count"][0])
        score = float(cols["sentiment"][0])
        if n == 0 or math.isnan(score):
            return SymbolSentiment(key, ts, 0.0, 0.0, "NEUTRAL", n)
        by_source = self._by_source(ser, t)
        label: AggLabel = (
            "BULLISH" if score >= self._threshold
            else "BEARISH" if score <= -self._threshold
            else "NEUTRAL"
        )
        return SymbolSentiment(key, ts, score, float(cols["sentiment_confidence"][0]), label,
                               n, by_source)

    def _by_source(self, ser: NewsSeries, t: int) -> dict[str, float]:
        """Per source kind, the decayed weighted mean (for display only)."""
        hl = self.params.half_life_minutes * 60_000.0
        hi = int(np.searchsorted(ser.available, t, side="right"))
        lo = int(np.searchsorted(ser.available, t - int(self.params.lookback_half_lives * hl),
                                 side="right"))
        out: dict[str, float] = {}
        for j, kind in enumerate(ser.kinds):
            sel = np.flatnonzero(ser.kind[lo:hi] == j) + lo
            if sel.size == 0:
                continue
            w = 0.5 ** ((t - ser.published[sel]) / hl) * np.maximum(ser.conf[sel], _MIN_CONF)
            if w.sum() > 0:
                out[kind] = float((w * ser.score[sel]).sum() / w.sum())
        return out

    def series(self, symbol: str, timestamps: Sequence[datetime]) -> list[SymbolSentiment]:
        """`at` for each timestamp (what a backtest asks per candle close)."""
        return [self.at(symbol, ts) for ts in timestamps]
