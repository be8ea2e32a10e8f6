"""The scorer factory and the `ensemble` scorer.

`make_scorer(name, settings)` is the one place that turns a setting into a scorer, so the
CLI, the bench and the engine build scorers identically. Heavy scorers (finbert, openai)
import their libraries only when built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from sentiment._lexicon_data import EVENT_PRIORITY
from sentiment.config import SentimentSettings
from sentiment.errors import ScorerError
from sentiment.items import EventType, Label, MarketContexts, Score, Scorer

if TYPE_CHECKING:
    import httpx

__all__ = ["SCORER_NAMES", "AlertHook", "EnsembleScorer", "make_scorer"]

log = logging.getLogger(__name__)

SCORER_NAMES: tuple[str, ...] = ("lexicon", "rules", "finbert", "openai", "ensemble")

AlertHook = Callable[[str], None]
"""Called with a human-readable line when something needs the operator (budget spent)."""


def make_scorer(
    name: str | None = None,
    settings: SentimentSettings | None = None,
    *,
    alert: AlertHook | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> Scorer:
    """Build the scorer `name` (default: `settings.scorer`) from the `[sentiment]` section.

    Raises `ValueError` for an unknown name and `ScorerError` (e.g. `ModelLoadError`)
    when the scorer cannot be built.
    """
    s = settings or SentimentSettings()
    name = name or s.scorer
    if name == "lexicon":
        # the rules plus the shipped model (`sentiment.headline`); the name is kept so
        # configs and stored scores stay valid. The rules alone: `LexiconScorer`.
        from sentiment.headline import HeadlineScorer

        return HeadlineScorer(extra_lexicon=s.extra_lexicon, aliases=s.symbol_aliases)
    if name == "rules":
        # the rules alone (no model file, about twice as fast); stored under "rules"
        from sentiment.lexicon import LexiconScorer

        rules = LexiconScorer(extra_lexicon=s.extra_lexicon, aliases=s.symbol_aliases)
        rules.name = "rules"
        return rules
    if name == "finbert":
        from sentiment.finbert import FinbertScorer

        return FinbertScorer.from_settings(s)
    if name == "openai":
        from sentiment.llm import OpenAIScorer

        return OpenAIScorer.from_settings(s, alert=alert, http_client=http_client)
    if name == "ensemble":
        members: dict[str, tuple[Scorer, float]] = {}
        for member, weight in s.ensemble_weights.items():
            if weight <= 0:
                continue
            members[member] = (make_scorer(member, s, alert=alert, http_client=http_client),
                               weight)
        return EnsembleScorer(members)
    raise ValueError(f"unknown scorer {name!r} (choose from {', '.join(SCORER_NAMES)})")


class EnsembleScorer:
    """Weighted combination: score = weighted mean; label = confidence-weighted vote.

    A member that raises `ScorerError` is skipped for that batch and the weights are
    renormalised over the others; only if all fail does the ensemble fail.
    """

    name = "ensemble"

    def __init__(self, members: Mapping[str, tuple[Scorer, float]]) -> None:
        if not members:
            raise ValueError("ensemble needs at least one member")
        if any(w < 0 for _, w in members.values()):
            raise ValueError("ensemble weights must be >= 0")
        self._members = dict(members)

    def _combine(self, results: Mapping[str, list[Score]], n: int) -> list[Score]:
        if not results:
            raise ScorerError("every ensemble member failed")
        weights = {k: self._members[k][1] for k in results}
        total = sum(weights.values()) or 1.0
        out: list[Score] = []
        for i in range(n):
            score = 0.0
            conf = 0.0
            votes: dict[Label, float] = {"positive": 0.0, "negative": 0.0, "neutral": 0.0}
            event: EventType = "none"
            impact = 1
            syms: list[str] = []
            for k, scores in results.items():
                sc = scores[i]
                w = weights[k] / total
                score += w * sc.score
                conf += w * sc.confidence
                votes[sc.label] += w * max(sc.confidence, 0.05)
                if EVENT_PRIORITY[sc.event_type] > EVENT_PRIORITY[event]:
                    event = sc.event_type
                impact = max(impact, sc.impact)
                syms.extend(x for x in sc.symbols if x not in syms)
            label = max(votes, key=votes.__getitem__)
            agreement = votes[label] / (sum(votes.values()) or 1.0)
            out.append(Score(
                label=label, score=max(-1.0, min(1.0, score)),
                confidence=max(0.0, min(1.0, conf * agreement)), event_type=event,
                impact=impact, symbols=tuple(syms), scorer=self.name,
            ))
        return out

    def score(self, texts: Sequence[str], context: MarketContexts | None = None) -> list[Score]:
        results: dict[str, list[Score]] = {}
        for k, (scorer, _w) in self._members.items():
            try:
                results[k] = scorer.score(texts, context)
            except ScorerError as exc:
                log.warning("ensemble member %s failed: %s", k, exc)
        return self._combine(results, len(texts))

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]:
        names = list(self._members)
        got = await asyncio.gather(
            *(self._members[k][0].ascore(texts, context) for k in names),
            return_exceptions=True
        )
        results: dict[str, list[Score]] = {}
        for k, r in zip(names, got, strict=True):
            if isinstance(r, ScorerError):
                log.warning("ensemble member %s failed: %s", k, r)
            elif isinstance(r, BaseException):
                raise r
            else:
                results[k] = r
        return self._combine(results, len(texts))
