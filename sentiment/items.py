"""Plain value types shared by sources, scorers, aggregation and the engine adapter.

No DB code here: `engine/data/news.py` maps these onto the SQLModel rows, so `sentiment`
stays importable (and testable) without the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "EVENT_TYPES",
    "LABELS",
    "EventType",
    "Label",
    "MarketContext",
    "MarketContexts",
    "RawItem",
    "Score",
    "ScoredItem",
    "Scorer",
]

Label = Literal["positive", "negative", "neutral"]
LABELS: tuple[Label, ...] = ("positive", "negative", "neutral")

EventType = Literal[
    "regulatory", "partnership", "technical", "hack/exploit", "market", "macro", "none"
]
EVENT_TYPES: tuple[EventType, ...] = (
    "regulatory",
    "partnership",
    "technical",
    "hack/exploit",
    "market",
    "macro",
    "none",
)


@dataclass(frozen=True, slots=True)
class RawItem:
    """One headline/post as fetched, before scoring.

    `published_at` and `fetched_at` are UTC-aware. `dedup_key` hashes the canonical URL
    and `title_hash` the normalised title; both are filled by `sentiment.dedup`.
    """

    source: str
    source_kind: str
    url: str
    title: str
    summary: str
    published_at: datetime
    fetched_at: datetime
    symbols: tuple[str, ...] = ()
    dedup_key: str = ""
    title_hash: str = ""

    @property
    def text(self) -> str:
        """What scorers read: the title (headlines carry the sentiment; summaries dilute it)."""
        return self.title


@dataclass(frozen=True, slots=True)
class Score:
    """The verdict of one scorer on one text.

    `score` is in [-1, 1] (negative = bearish), `confidence` in [0, 1], `impact` 1..10.
    Out-of-range values are refused rather than clipped so a buggy scorer is caught.
    """

    label: Label
    score: float
    confidence: float
    event_type: EventType = "none"
    impact: int = 1
    symbols: tuple[str, ...] = ()
    scorer: str = ""
    reasoning: str = ""

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if not (math.isfinite(self.score) and -1.0 <= self.score <= 1.0):
            raise ValueError(f"score must be in [-1, 1], got {self.score!r}")
        if not (math.isfinite(self.confidence) and 0.0 <= self.confidence <= 1.0):
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence!r}")
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {self.event_type!r}")
        if not 1 <= int(self.impact) <= 10:
            raise ValueError(f"impact must be in 1..10, got {self.impact!r}")

    @classmethod
    def trusted(
        cls,
        label: Label,
        score: float,
        confidence: float,
        event_type: EventType,
        impact: int,
        symbols: tuple[str, ...],
        scorer: str,
        reasoning: str = "",
    ) -> Score:
        """Build without validation: only for scorers whose values are in range by
        construction (the lexicon's hot path, ~2 µs saved per headline)."""
        obj = object.__new__(cls)
        _S_LABEL(obj, label)
        _S_SCORE(obj, score)
        _S_CONF(obj, confidence)
        _S_EVENT(obj, event_type)
        _S_IMPACT(obj, impact)
        _S_SYMBOLS(obj, symbols)
        _S_SCORER(obj, scorer)
        _S_REASON(obj, reasoning)
        return obj

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (CLI `--json`, DB adapter)."""
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "event_type": self.event_type,
            "impact": self.impact,
            "symbols": list(self.symbols),
            "scorer": self.scorer,
            "reasoning": self.reasoning,
        }


# Slot descriptors' setters: bypass the frozen __setattr__ in `Score.trusted`.
_S_LABEL = Score.__dict__["label"].__set__
_S_SCORE = Score.__dict__["score"].__set__
_S_CONF = Score.__dict__["confidence"].__set__
_S_EVENT = Score.__dict__["event_type"].__set__
_S_IMPACT = Score.__dict__["impact"].__set__
_S_SYMBOLS = Score.__dict__["symbols"].__set__
_S_SCORER = Score.__dict__["scorer"].__set__
_S_REASON = Score.__dict__["reasoning"].__set__


@dataclass(frozen=True, slots=True)
class MarketContext:
    """One coin's market when its headlines are scored: what the research document's GPT
    evaluator is shown next to a headline ("ETF approved" means less after a +30% day).

    Supplied by the engine (`sentiment` never reads prices); `sentiment.llm` sends it,
    offline scorers accept and ignore it.
    """

    price: float
    change_24h_pct: float
    rsi_14: float
    trend: Literal["up", "down", "sideways"]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"price must be > 0, got {self.price!r}")
        if not math.isfinite(self.change_24h_pct):
            raise ValueError(f"change_24h_pct must be finite, got {self.change_24h_pct!r}")
        if not (math.isfinite(self.rsi_14) and 0.0 <= self.rsi_14 <= 100.0):
            raise ValueError(f"rsi_14 must be in [0, 100], got {self.rsi_14!r}")
        if self.trend not in ("up", "down", "sideways"):
            raise ValueError(f"trend must be up/down/sideways, got {self.trend!r}")

    def as_dict(self) -> dict[str, object]:
        return {"price": round(self.price, 8), "change_24h_pct": round(self.change_24h_pct, 2),
                "rsi_14": round(self.rsi_14, 1), "trend": self.trend}

    def bucket(self) -> str:
        """Coarse form for the cache key: 5-point change and RSI bands, the trend."""
        return f"{round(self.change_24h_pct / 5)}:{round(self.rsi_14 / 5)}:{self.trend}"


MarketContexts = Mapping[str, MarketContext]
"""Symbol -> its context now; symbols without one are simply not sent."""


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """What aggregation needs of a scored item: when, where from, about what, how much."""

    published_at: datetime
    source_kind: str
    score: float
    confidence: float
    symbols: tuple[str, ...] = field(default=())


@runtime_checkable
class Scorer(Protocol):
    """One interface for every scorer: `score(texts) -> list[Score]`, same order and length.

    `ascore` is the form the engine awaits; heavy scorers run it off the event loop.
    `context` is the market of the coins the texts may name (`MarketContext` per
    symbol): the LLM scorer sends it with the headlines; offline scorers ignore it.
    """

    name: str

    def score(self, texts: Sequence[str],
              context: MarketContexts | None = None) -> list[Score]: ...

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]: ...
