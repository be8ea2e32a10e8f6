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

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sentiment.config import DEFAULT_SOURCE_WEIGHTS, SentimentSettings
from sentiment.items import ScoredItem

__all__ = ["MARKET", "Aggregator", "SymbolSentiment", "base_symbol"]

AggLabel = Literal["BULLISH", "BEARISH", "NEUTRAL"]
MARKET = "*"  # items that name no coin: market-wide mood
UNKNOWN_SOURCE_WEIGHT = 0.2
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


class _Series:
    """One symbol's items sorted by publication time (epoch seconds)."""

    __slots__ = ("conf", "kinds", "scores", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.scores: list[float] = []
        self.conf: list[float] = []
        self.kinds: list[str] = []

    def insert(self, t: float, score: float, conf: float, kind: str) -> None:
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.scores.insert(i, score)
        self.conf.insert(i, conf)
        self.kinds.insert(i, kind)


def _epoch(ts: datetime, what: str) -> float:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {ts.isoformat()}")
    return ts.timestamp()


class Aggregator:
    """Holds scored items and answers `at(symbol, ts)`; `add` more as they arrive."""

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
        self._hl = half_life_minutes * 60.0
        self._weights = dict(DEFAULT_SOURCE_WEIGHTS if source_weights is None else source_weights)
        if any(w < 0 for w in self._weights.values()):
            raise ValueError("source weights must be >= 0")
        self._threshold = threshold
        self._lookback = lookback_half_lives * self._hl
        self._series: dict[str, _Series] = {}
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
            t = _epoch(it.published_at, "published_at")
            score = max(-1.0, min(1.0, float(it.score)))
            conf = max(0.0, min(1.0, float(it.confidence)))
            for sym in it.symbols or (MARKET,):
                key = MARKET if sym == MARKET else base_symbol(sym)
                self._series.setdefault(key, _Series()).insert(t, score, conf, it.source_kind)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._series)

    def at(self, symbol: str, ts: datetime) -> SymbolSentiment:
        """Sentiment of `symbol` using only items published at or before `ts`."""
        t = _epoch(ts, "ts")
        key = MARKET if symbol == MARKET else base_symbol(symbol)
        ser = self._series.get(key)
        if ser is None:
            return SymbolSentiment(key, ts, 0.0, 0.0, "NEUTRAL", 0)
        hi = bisect.bisect_right(ser.times, t)  # published_at <= ts
        lo = bisect.bisect_left(ser.times, t - self._lookback, 0, hi)
        if hi <= lo:
            return SymbolSentiment(key, ts, 0.0, 0.0, "NEUTRAL", 0)
        # per source kind: decayed, confidence-weighted sums
        wsum: dict[str, float] = {}
        ssum: dict[str, float] = {}
        hl = self._hl
        for i in range(lo, hi):
            w = 0.5 ** ((t - ser.times[i]) / hl) * max(ser.conf[i], _MIN_CONF)
            k = ser.kinds[i]
            wsum[k] = wsum.get(k, 0.0) + w
            ssum[k] = ssum.get(k, 0.0) + w * ser.scores[i]
        src_w = {k: self._weights.get(k, UNKNOWN_SOURCE_WEIGHT) for k in wsum}
        total_src = sum(src_w.values())
        if total_src <= 0 or not any(v > 0 for v in wsum.values()):
            return SymbolSentiment(key, ts, 0.0, 0.0, "NEUTRAL", hi - lo)
        by_source = {k: ssum[k] / wsum[k] for k in wsum if wsum[k] > 0}
        mean = sum(src_w[k] / total_src * by_source[k] for k in by_source)
        # agreement: weighted std of item scores under the same effective weights
        var = 0.0
        for i in range(lo, hi):
            k = ser.kinds[i]
            if wsum[k] <= 0:
                continue
            w = 0.5 ** ((t - ser.times[i]) / hl) * max(ser.conf[i], _MIN_CONF)
            eff = src_w[k] / total_src * w / wsum[k]
            var += eff * (ser.scores[i] - mean) ** 2
        std = math.sqrt(max(var, 0.0))
        confidence = max(0.0, 1.0 - 2.0 * std)
        mean = max(-1.0, min(1.0, mean))
        label: AggLabel = (
            "BULLISH" if mean >= self._threshold
            else "BEARISH" if mean <= -self._threshold
            else "NEUTRAL"
        )
        return SymbolSentiment(key, ts, mean, confidence, label, hi - lo, by_source)

    def series(self, symbol: str, timestamps: Sequence[datetime]) -> list[SymbolSentiment]:
        """`at` for each timestamp (what a backtest asks per candle close)."""
        return [self.at(symbol, ts) for ts in timestamps]
