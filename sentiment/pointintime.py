"""The one point-in-time aggregation: per-symbol sentiment columns at given instants.

Every reader of "what did the news say about BTC at 09:05" goes through `columns_at`:
the backtester asks it for every candle close at once, the live engine for the candle
that just closed, `/sentiment` for "now", and `Aggregator.at` for one instant. They all
run the same numba kernels over the same sorted arrays, so a replay through the live
engine sees bit-identical values to the backtest (no second formula to drift).

Rule (DESIGN.md): an item published at P and available at A = P + delay counts for an
instant T only when A <= T. A 09:03 headline may affect the 09:05 candle, never 09:00.

Per instant T, over the items available in (T - lookback, T]:

- ``sentiment``: decayed, confidence-weighted mean per source kind
  (``w = 0.5 ** (age / half_life) * max(confidence, 0.05)``), combined with the source
  weights renormalised over the kinds present; NaN when no item.
- ``sentiment_confidence``: agreement ``max(0, 1 - 2 * weighted std)`` times the items'
  decayed mean confidence (one unsure headline is not a confident mood); 0 when no item.
- ``news_count``: items in the window.
- ``news_impact``: highest impact (1..10) of the items that became available within the
  last ``recent`` ms (one candle): "a high-impact headline just arrived".
- ``event_<type>``: items of that event type available within the event window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MIN_CONF = 0.05
UNKNOWN_SOURCE_WEIGHT = 0.2
# event types of `sentiment.items.EventType` -> frame column (hack/exploit gets a name
# that is a valid identifier); "none" has no column
EVENT_COLUMNS: dict[str, str] = {
    "regulatory": "event_regulatory",
    "partnership": "event_partnership",
    "technical": "event_technical",
    "hack/exploit": "event_hack",
    "market": "event_market",
    "macro": "event_macro",
}
EVENT_NAMES: tuple[str, ...] = tuple(EVENT_COLUMNS)
SENTIMENT_COLUMNS: tuple[str, ...] = (
    "sentiment", "sentiment_confidence", "news_count", "news_impact", *EVENT_COLUMNS.values()
)


@dataclass(frozen=True, slots=True)
class AggParams:
    """How items are weighted; from the `[sentiment]` and `[engine]` settings."""

    half_life_minutes: float = 120.0
    lookback_half_lives: float = 8.0
    event_window_minutes: float = 360.0
    source_weights: tuple[tuple[str, float], ...] = ()

    @classmethod
    def make(cls, half_life_minutes: float = 120.0, lookback_half_lives: float = 8.0,
             event_window_minutes: float = 360.0,
             source_weights: Mapping[str, float] | None = None) -> AggParams:
        if half_life_minutes <= 0 or lookback_half_lives <= 0 or event_window_minutes < 0:
            raise ValueError("half-life and lookback must be > 0, the event window >= 0")
        return cls(float(half_life_minutes), float(lookback_half_lives),
                   float(event_window_minutes), tuple(sorted((source_weights or {}).items())))

    def weight_of(self, kind: str) -> float:
        for k, w in self.source_weights:
            if k == kind:
                return w
        return UNKNOWN_SOURCE_WEIGHT


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One scored item as the aggregation needs it (times in ms since the epoch, UTC)."""

    published_ms: int
    score: float
    confidence: float
    kind: str = "news"
    event_type: str = "none"
    impact: int = 1
    available_ms: int | None = None  # default: published_ms


class NewsSeries:
    """One symbol's items as sorted arrays: by availability, then publication, score,
    confidence (so the same items give the same sums in any input order: the DB and a
    news file list ties differently)."""

    __slots__ = ("_scratch", "available", "conf", "event", "impact", "kind", "kinds",
                 "published", "score")

    def __init__(self, items: Iterable[NewsItem], *, delay_ms: int = 0) -> None:
        if delay_ms < 0:
            raise ValueError("the news delay cannot be negative (that would look ahead)")
        rows = list(items)
        kinds = sorted({r.kind for r in rows})
        kidx = {k: i for i, k in enumerate(kinds)}
        avail = np.array([(r.published_ms if r.available_ms is None else r.available_ms)
                          + delay_ms for r in rows], dtype=np.int64)
        pub = np.array([r.published_ms for r in rows], dtype=np.int64)
        sc = np.array([r.score for r in rows], dtype=np.float64)
        cf = np.array([r.confidence for r in rows], dtype=np.float64)
        order = np.lexsort((cf, sc, pub, avail)) if rows else np.zeros(0, dtype=np.int64)
        self.available: I64 = avail[order]
        self.published: I64 = pub[order]
        self.score: F64 = np.clip(sc, -1.0, 1.0)[order]
        self.conf: F64 = np.clip(cf, 0.0, 1.0)[order]
        self.kind: I64 = np.array([kidx[r.kind] for r in rows], dtype=np.int64)[order]
        ev = {e: i for i, e in enumerate(EVENT_NAMES)}
        self.event: I64 = np.array([ev.get(r.event_type, -1) for r in rows],
                                   dtype=np.int64)[order]
        self.impact: F64 = np.array([float(r.impact) for r in rows], dtype=np.float64)[order]
        self.kinds: tuple[str, ...] = tuple(kinds)
        self._scratch: tuple[AggParams, F64, list[npt.NDArray[Any]]] | None = None

    def scratch(self, params: AggParams) -> tuple[F64, list[npt.NDArray[Any]]]:
        """Source weights and one-instant output buffers, kept between calls (the live
        engine asks one instant per candle; allocating each time costs more than the
        sums)."""
        if self._scratch is None or self._scratch[0] != params:
            kind_w = np.array([params.weight_of(k) for k in self.kinds] or [0.0])
            bufs = [np.empty(1), np.empty(1), np.zeros(1, dtype=np.int64),
                    np.zeros((1, len(EVENT_NAMES))), np.zeros(1), np.zeros(1, dtype=np.int64)]
            self._scratch = (params, kind_w, bufs)
        return self._scratch[1], self._scratch[2]

    def __len__(self) -> int:
        return int(self.available.shape[0])


EMPTY = NewsSeries(())


@njit(cache=True, nogil=True)
def _aggregate(avail, published, score, conf, kind, kind_w, n_kinds, query, lookback,
               half_life, out_s, out_c, out_n):
    """Decayed, source-weighted mean and agreement per query instant (sorted or not)."""
    n = avail.shape[0]
    wsum = np.zeros(n_kinds)
    ssum = np.zeros(n_kinds)
    for q in range(query.shape[0]):
        t = query[q]
        hi = np.searchsorted(avail, t, side="right")
        lo = np.searchsorted(avail, t - lookback, side="right")
        if lo > hi:
            lo = hi
        out_n[q] = hi - lo
        if hi <= lo or n == 0:
            out_s[q] = np.nan
            out_c[q] = 0.0
            continue
        wsum[:] = 0.0
        ssum[:] = 0.0
        dsum = 0.0
        csum = 0.0
        for i in range(lo, hi):
            d = 0.5 ** ((t - published[i]) / half_life)
            w = d * max(conf[i], 0.05)
            wsum[kind[i]] += w
            ssum[kind[i]] += w * score[i]
            dsum += d
            csum += d * conf[i]
        total = 0.0
        for k in range(n_kinds):
            if wsum[k] > 0.0:
                total += kind_w[k]
        if total <= 0.0:
            out_s[q] = np.nan
            out_c[q] = 0.0
            continue
        mean = 0.0
        for k in range(n_kinds):
            if wsum[k] > 0.0:
                mean += kind_w[k] / total * (ssum[k] / wsum[k])
        var = 0.0
        for i in range(lo, hi):
            k = kind[i]
            if wsum[k] <= 0.0:
                continue
            w = 0.5 ** ((t - published[i]) / half_life) * max(conf[i], 0.05)
            var += kind_w[k] / total * w / wsum[k] * (score[i] - mean) ** 2
        std = np.sqrt(max(var, 0.0))
        mean_conf = csum / dsum if dsum > 0.0 else 0.0
        out_c[q] = max(0.0, 1.0 - 2.0 * std) * mean_conf
        out_s[q] = min(1.0, max(-1.0, mean))


@njit(cache=True, nogil=True)
def _events(avail, event, impact, query, window, recent, out_ev, out_imp):
    """Per query: items of each event type in (t - window, t]; top impact in the last
    `recent` ms."""
    for q in range(query.shape[0]):
        t = query[q]
        hi = np.searchsorted(avail, t, side="right")
        lo = np.searchsorted(avail, t - window, side="right")
        for i in range(lo, hi):
            e = event[i]
            if e >= 0:
                out_ev[q, e] += 1.0
        lo2 = np.searchsorted(avail, t - recent, side="right")
        best = 0.0
        for i in range(lo2, hi):
            if impact[i] > best:
                best = impact[i]
        out_imp[q] = best


def columns_at(series: NewsSeries, query_ms: npt.ArrayLike, params: AggParams,
               *, recent_ms: int = 0) -> dict[str, F64]:
    """The sentiment columns (`SENTIMENT_COLUMNS`) at each instant of `query_ms`."""
    q = np.ascontiguousarray(query_ms, dtype=np.int64)
    m = q.shape[0]
    out_s = np.empty(m)
    out_c = np.empty(m)
    out_n = np.zeros(m, dtype=np.int64)
    hl = params.half_life_minutes * 60_000.0
    kind_w = np.array([params.weight_of(k) for k in series.kinds] or [0.0], dtype=np.float64)
    _aggregate(series.available, series.published, series.score, series.conf, series.kind,
               kind_w, max(1, len(series.kinds)), q, int(params.lookback_half_lives * hl), hl,
               out_s, out_c, out_n)
    ev = np.zeros((m, len(EVENT_NAMES)))
    imp = np.zeros(m)
    _events(series.available, series.event, series.impact, q,
            int(params.event_window_minutes * 60_000), int(recent_ms), ev, imp)
    cols: dict[str, F64] = {"sentiment": out_s, "sentiment_confidence": out_c,
                            "news_count": out_n.astype(np.float64), "news_impact": imp}
    for j, name in enumerate(EVENT_NAMES):
        cols[EVENT_COLUMNS[name]] = np.ascontiguousarray(ev[:, j])
    return cols


_EMPTY_ONE: dict[str, float] = {c: 0.0 for c in SENTIMENT_COLUMNS} | {"sentiment": float("nan")}


def columns_one(series: NewsSeries, t_ms: int, params: AggParams, *,
                recent_ms: int = 0) -> dict[str, float]:
    """`columns_at` for one instant, without allocations: the same kernels on the same
    arrays, so the value is bit-identical to the backtester's for that instant."""
    if len(series) == 0:
        return dict(_EMPTY_ONE)
    kind_w, (out_s, out_c, out_n, ev, imp, q) = series.scratch(params)
    q[0] = t_ms
    hl = params.half_life_minutes * 60_000.0
    _aggregate(series.available, series.published, series.score, series.conf, series.kind,
               kind_w, max(1, len(series.kinds)), q, int(params.lookback_half_lives * hl), hl,
               out_s, out_c, out_n)
    ev[:] = 0.0
    _events(series.available, series.event, series.impact, q,
            int(params.event_window_minutes * 60_000), int(recent_ms), ev, imp)
    out = {"sentiment": float(out_s[0]), "sentiment_confidence": float(out_c[0]),
           "news_count": float(out_n[0]), "news_impact": float(imp[0])}
    for j, name in enumerate(EVENT_NAMES):
        out[EVENT_COLUMNS[name]] = float(ev[0, j])
    return out


def empty_columns(n: int) -> dict[str, F64]:
    """The columns when no news is known (sentiment NaN, everything else 0)."""
    cols = {c: np.zeros(n) for c in SENTIMENT_COLUMNS}
    cols["sentiment"] = np.full(n, np.nan)
    return cols
