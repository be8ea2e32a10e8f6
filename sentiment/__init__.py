"""News and social sentiment: sources and scorers. Knows nothing of trading.

Light on import: value types and errors only. Scorers, sources and the aggregator live
in their modules (`sentiment.scorers.make_scorer`, `sentiment.sources.NewsCollector`,
`sentiment.aggregate.Aggregator`); torch, transformers and openai load only when used.
"""

from sentiment.errors import (
    BudgetExceeded,
    FetchTimeout,
    HTTPStatusError,
    ModelLoadError,
    ParseError,
    PayloadTooLarge,
    RateLimited,
    ScorerError,
    SentimentError,
    SourceError,
    TransportError,
)
from sentiment.items import EVENT_TYPES, LABELS, RawItem, Score, ScoredItem, Scorer

__all__ = [
    "EVENT_TYPES",
    "LABELS",
    "BudgetExceeded",
    "FetchTimeout",
    "HTTPStatusError",
    "ModelLoadError",
    "ParseError",
    "PayloadTooLarge",
    "RateLimited",
    "RawItem",
    "Score",
    "ScoredItem",
    "Scorer",
    "ScorerError",
    "SentimentError",
    "SourceError",
    "TransportError",
]
