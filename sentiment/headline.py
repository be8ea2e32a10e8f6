"""The default offline scorer: crypto/finance rules plus the shipped headline model.

Why both: the rules (`sentiment.lexicon`) know crypto events, numbers, negation and give
the event type, impact and symbols; the learned model (`sentiment.linear`, trained on
hand-labelled finance headlines, see `sentiment/model/MODEL_CARD.md`) knows the phrasing
of news and supplies probabilities. The model takes the rule score as an input and adds
it with a fixed weight, so the verdict is one calibrated softmax over both.

`confidence` is the calibrated probability of the chosen label (temperature scaling
fitted on held-out predictions): among headlines scored with confidence 0.8, about 80%
carry that label on data like the training data. `score` is P(positive) - P(negative).

Registered as `lexicon` in `make_scorer`, so existing configs and stored scores keep
their name; the rules alone stay available as `sentiment.lexicon.LexiconScorer`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import numpy as np

from sentiment.features import crypto_domain, dense_batch
from sentiment.items import Label, MarketContexts, Score
from sentiment.lexicon import LexiconScorer
from sentiment.linear import CLASSES, LinearModel, default_model, softmax

__all__ = ["HeadlineScorer"]

_LABELS: tuple[Label, Label, Label] = ("negative", "positive", "neutral")
assert _LABELS == CLASSES


class HeadlineScorer:
    """Rules + linear model. Stateless after construction; safe to share between tasks.

    Texts about crypto (`features.crypto_domain`) get the crypto class bias and
    temperature, other texts the finance tweets' ones. `adapt_prior=False` treats every
    text as finance text (the model as fitted on the tweets' prior).
    """

    name = "lexicon"

    def __init__(
        self,
        *,
        model: LinearModel | None = None,
        rules: LexiconScorer | None = None,
        adapt_prior: bool = True,
        extra_lexicon: Mapping[str, float] | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._model = model or default_model()
        self._rules = rules or LexiconScorer(extra_lexicon=extra_lexicon, aliases=aliases)
        self._adapt = adapt_prior

    def score(self, texts: Sequence[str], context: MarketContexts | None = None) -> list[Score]:
        """Score each text; same order and length as `texts` (`context` is ignored:
        the model reads the headline alone)."""
        if not texts:
            return []
        analyse = self._rules.analyse
        analyses = [analyse(t)[0] for t in texts]
        crypto = ([crypto_domain(t, a.symbols) for t, a in zip(texts, analyses, strict=True)]
                  if self._adapt else None)
        dense = dense_batch([a.compound for a in analyses], [a.event_type for a in analyses],
                            crypto)
        p = softmax(self._model.logits(texts, dense))
        best = p.argmax(axis=1)
        conf = p[np.arange(len(texts)), best]
        polarity = np.clip(p[:, 1] - p[:, 0], -1.0, 1.0).tolist()
        labels = [_LABELS[b] for b in best.tolist()]
        trusted = Score.trusted
        name = self.name
        # values are in range by construction: skip Score's validation (hot path)
        return [trusted(lab, pol, cf, a.event_type, a.impact, a.symbols, name)  # type: ignore[arg-type]
                for lab, pol, cf, a in zip(labels, polarity, conf.tolist(), analyses,
                                           strict=True)]

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]:
        """Inline for small batches; big ones go to a thread."""
        if len(texts) <= 256:
            return self.score(texts)
        return await asyncio.to_thread(self.score, texts)
