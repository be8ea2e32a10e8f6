"""Fusion: technical score (streaming indicators) + sentiment at candle close + event
rules -> a Signal with direction, strength, confidence and the inputs behind it.

Point-in-time: the sentiment used for the candle closing at T only counts headlines
published at or before T (DESIGN.md). Sentiment is read through `SentimentSource.at`
(one small seam): today `DbSentiment` reads `news_items` joined with
`sentiment_scores`; the sentiment package's `aggregate.at` can replace it in one line.

Event rule: a hack/exploit headline naming a symbol we hold, published within
`event_window`, makes an `exit` signal whatever the indicators say.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import col, select

from engine.db import SessionFactory
from engine.models import NewsItem, SentimentScore

if TYPE_CHECKING:
    from engine.indicators.streaming import ATRStream, EMAStream, RSIStream

HACK_RE = re.compile(r"\b(hack(ed|s)?|exploit(ed|s)?|drain(ed)?|breach(ed)?|stolen)\b", re.I)


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed candle, stamped with its CLOSE time (right-aligned)."""

    symbol: str
    timeframe: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class SentimentReading:
    score: float | None  # time-decayed mean in [-1, 1]; None = no news
    n: int
    headlines: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()  # hack/exploit headlines inside the event window


class SentimentSource(Protocol):
    def at(self, symbol: str, ts: datetime) -> SentimentReading: ...


@dataclass(slots=True)
class _Item:
    ts: datetime
    score: float
    title: str
    bases: frozenset[str]
    event: bool


class DbSentiment:
    """Scored headlines from the DB, kept in memory and queried point-in-time."""

    def __init__(self, sessions: SessionFactory, *, half_life_minutes: float = 120.0,
                 lookback: timedelta = timedelta(hours=24),
                 event_window: timedelta = timedelta(hours=6)) -> None:
        self.sessions = sessions
        self.half_life = half_life_minutes
        self.lookback = lookback
        self.event_window = event_window
        self._items: list[_Item] = []
        self._ts: list[datetime] = []
        self._by_base: dict[str, tuple[list[datetime], list[_Item]]] = {}

    def refresh(self) -> int:
        """Reload scored items (call after the news poll)."""
        with self.sessions() as s:
            rows = s.exec(select(NewsItem, SentimentScore)
                          .join(SentimentScore, col(SentimentScore.news_item_id) == NewsItem.id)
                          .order_by(col(NewsItem.published_at))).all()
        items: dict[int, _Item] = {}
        for n, sc in rows:
            bases = frozenset(x.upper().split("/")[0] for x in (sc.symbols or n.symbols))
            event = (sc.event_type in ("hack/exploit", "hack", "exploit")
                     or bool(HACK_RE.search(n.title)))
            items[n.id or 0] = _Item(n.published_at, float(sc.score), n.title, bases, event)
        self.load(items.values())
        return len(self._items)

    def load(self, items: Iterable[_Item]) -> None:
        """Index items by time and by base asset (an item naming no asset counts for
        every symbol), so `at` only walks the items that can matter."""
        self._items = sorted(items, key=lambda i: i.ts)
        self._ts = [i.ts for i in self._items]
        per: dict[str, list[_Item]] = {}
        general = [i for i in self._items if not i.bases]
        for it in self._items:
            for b in it.bases:
                per.setdefault(b, []).append(it)
        self._by_base = {b: ([i.ts for i in lst], lst) for b, lst in per.items()}
        self._by_base[""] = ([i.ts for i in general], general)

    def _window(self, base: str, ts: datetime) -> list[_Item]:
        out: list[_Item] = []
        for key in (base, ""):
            stamps, lst = self._by_base.get(key, ([], []))
            hi = bisect.bisect_right(stamps, ts)
            lo = bisect.bisect_left(stamps, ts - self.lookback)
            out.extend(lst[lo:hi])
        return out

    def at(self, symbol: str, ts: datetime) -> SentimentReading:
        base = symbol.split("/")[0].upper()
        num = den = 0.0
        n = 0
        heads: list[str] = []
        alerts: list[str] = []
        for it in sorted(self._window(base, ts), key=lambda i: i.ts):
            age = (ts - it.ts).total_seconds() / 60
            w = 0.5 ** (age / self.half_life)
            num += w * it.score
            den += w
            n += 1
            heads.append(it.title)
            if it.event and it.bases and ts - it.ts <= self.event_window:
                alerts.append(it.title)
        return SentimentReading(num / den if den > 0 else None, n, tuple(heads[-3:]),
                                tuple(alerts))


@dataclass(frozen=True, slots=True)
class FusionParams:
    ema_fast: int = 12
    ema_slow: int = 26
    rsi_period: int = 14
    atr_period: int = 14
    tech_weight: float = 0.6
    sentiment_weight: float = 0.4
    entry_threshold: float = 0.35
    exit_threshold: float = 0.25
    spread_scale_pct: float = 0.3
    rsi_overbought: float = 75.0


@dataclass(frozen=True, slots=True)
class SignalDraft:
    direction: str  # long | exit | flat
    strength: float
    confidence: float
    technical: float
    sentiment: float | None
    inputs: dict[str, Any]
    reasons: tuple[str, ...]
    atr: float | None


@dataclass(slots=True)
class _SymbolState:
    fast: EMAStream
    slow: EMAStream
    rsi: RSIStream
    atr: ATRStream
    last_fused: float = 0.0
    bars: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class Fusion:
    """Per (bot, symbol) streaming state; `on_bar` is O(1) per candle."""

    def __init__(self, params: FusionParams | None = None) -> None:
        self.p = params or FusionParams()
        self._state: dict[tuple[str, str], _SymbolState] = {}

    def _st(self, key: tuple[str, str]) -> _SymbolState:
        st = self._state.get(key)
        if st is None:
            # the indicator library's streams: O(1) per candle and equal to the 1-D
            # kernels (so a backtest's numbers are the live loop's); imported here, as the
            # library loads numba, which commands that never trade should not pay for
            from engine.indicators.streaming import ATRStream, EMAStream, RSIStream

            p = self.p
            st = _SymbolState(EMAStream(p.ema_fast), EMAStream(p.ema_slow),
                              RSIStream(p.rsi_period), ATRStream(p.atr_period))
            self._state[key] = st
        return st

    def technical(self, key: tuple[str, str], bar: Bar) -> tuple[float, dict[str, float]]:
        st = self._st(key)
        st.bars += 1
        f = st.fast.update(bar.close)
        sl = st.slow.update(bar.close)
        r = st.rsi.update(bar.close)
        a = st.atr.update(bar.high, bar.low, bar.close)
        inputs = {"ema_fast": f, "ema_slow": sl, "rsi": r, "atr": a, "close": bar.close}
        if math.isnan(sl) or math.isnan(r):
            return math.nan, inputs
        spread = (f / sl - 1) * 100
        tech = math.tanh(spread / self.p.spread_scale_pct)
        if r > self.p.rsi_overbought:
            tech -= 0.3
        return max(-1.0, min(1.0, tech)), inputs

    def on_bar(self, bot: str, bar: Bar, sentiment: SentimentReading, holding: bool,
               event_rules: bool = True) -> SignalDraft:
        key = (bot, bar.symbol)
        tech, inputs = self.technical(key, bar)
        st = self._st(key)
        atr = inputs["atr"] if not math.isnan(inputs["atr"]) else None
        clean = {k: round(v, 6) for k, v in inputs.items() if not math.isnan(v)}
        if holding and event_rules and sentiment.alerts:
            return SignalDraft("exit", 1.0, 0.9, 0.0 if math.isnan(tech) else tech,
                               sentiment.score, clean,
                               tuple(f"event: {h}" for h in sentiment.alerts[:2]), atr)
        if math.isnan(tech):
            return SignalDraft("flat", 0.0, 0.0, 0.0, sentiment.score, clean, (), atr)
        p = self.p
        if sentiment.score is None:
            fused, conf = tech, 0.5
        else:
            fused = p.tech_weight * tech + p.sentiment_weight * sentiment.score
            agree = (tech >= 0) == (sentiment.score >= 0)
            conf = min(1.0, 0.5 + 0.1 * min(sentiment.n, 3) + (0.2 if agree else -0.1))
        prev, st.last_fused = st.last_fused, fused
        clean["fused"] = round(fused, 6)
        if not holding and fused >= p.entry_threshold > prev:
            return SignalDraft("long", min(1.0, fused), conf, tech, sentiment.score, clean,
                               self._reasons(clean, tech, sentiment), atr)
        if holding and fused <= -p.exit_threshold:
            return SignalDraft("exit", min(1.0, -fused), conf, tech, sentiment.score, clean,
                               self._reasons(clean, tech, sentiment), atr)
        return SignalDraft("flat", abs(fused), conf, tech, sentiment.score, clean, (), atr)

    def _reasons(self, v: dict[str, float], tech: float,
                 sentiment: SentimentReading) -> tuple[str, ...]:
        """The proposal's 'why' in words (built only for actionable signals)."""
        p = self.p
        out = [f"EMA{p.ema_fast}/{p.ema_slow} {v.get('ema_fast', 0):.2f}/"
               f"{v.get('ema_slow', 0):.2f}, RSI {v.get('rsi', 0):.1f}, technical {tech:+.2f}"]
        if sentiment.score is not None:
            out.append(f"sentiment {sentiment.score:+.2f} over {sentiment.n} headline(s)")
            out += [f"headline: {h}" for h in sentiment.headlines[-2:]]
        return tuple(out)
