"""The `openai` scorer: any OpenAI-compatible chat-completions endpoint.

Why it is built this way:

* several headlines per request (ids in, ids out) because per-request overhead and
  prompt tokens dominate the cost of one-line inputs;
* structured output (`response_format` = JSON schema) validated into pydantic models, so
  a reply that drifts from the schema is an error, not a silently wrong score;
* a cache keyed by a hash of (model, prompt version, text): the same headline syndicated
  by five feeds costs one lookup;
* a daily request and token budget (UTC day): when spent, the operator is alerted once
  and the scorer falls back to `lexicon` (or raises `BudgetExceeded` if fallback is off);
* timeouts and retries are the openai client's own (`timeout`, `max_retries`); anything
  that still fails falls back to `lexicon` for that batch when `openai_fallback` is on.

* optional market context: the research document's GPT evaluator sees each coin's
  price, 24 h change, RSI(14) and trend next to the headline, because "ETF approved"
  means less after a +30% day than after a -30% week. The engine passes it per call
  (`ascore(texts, context=...)`, the `Scorer` interface's optional parameter); a
  `market_context` provider given at construction is used when a call passes none. The
  context is part of the cache key (coarsely rounded), so a verdict is reused only in a
  similar market.

The API key is a `SecretStr` in settings and never appears in a log line or message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from sentiment.config import SentimentSettings
from sentiment.errors import BudgetExceeded, ScorerError
from sentiment.items import EVENT_TYPES, MarketContext, MarketContexts, Score, Scorer
from sentiment.lexicon import LexiconScorer
from sentiment.symbols import SymbolTagger

if TYPE_CHECKING:
    import httpx

__all__ = ["Budget", "HeadlineVerdict", "MarketContext", "MarketContextFn", "OpenAIScorer",
           "Verdicts"]

log = logging.getLogger(__name__)

PROMPT_VERSION = "v2"
SYSTEM_PROMPT = (
    "You are a crypto market news analyst. For each headline, judge its likely effect on "
    "the price of the crypto assets it concerns (not the writer's mood). Return one item "
    "per headline id: label (positive/negative/neutral), score in [-1, 1] (negative = "
    "bearish), confidence in [0, 1], event_type (regulatory, partnership, technical, "
    "hack/exploit, market, macro, none), impact 1-10 (10 = market-wide shock), symbols "
    "(tickers such as BTC, ETH), and a one-sentence reasoning. When a 'market' object "
    "gives a coin's price, 24 h change in %, RSI(14) and trend, judge the headline against "
    "it: news already priced in moves the price less."
)


MarketContextFn = Callable[[Sequence[str]], Mapping[str, MarketContext]]
"""Symbols -> their context now (missing symbols are simply not sent); the engine's
market data provides it, `sentiment` never reads prices itself."""


class HeadlineVerdict(BaseModel):
    """The model's answer for one headline."""

    id: int
    label: Literal["positive", "negative", "neutral"]
    score: float = Field(ge=-1.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    event_type: Literal[
        "regulatory", "partnership", "technical", "hack/exploit", "market", "macro", "none"
    ]
    impact: int = Field(ge=1, le=10)
    symbols: list[str]
    reasoning: str


class Verdicts(BaseModel):
    """The whole structured reply: one verdict per headline id."""

    items: list[HeadlineVerdict]


# Strict-mode JSON schema (no numeric bounds: not all compatible servers accept them; the
# pydantic model above enforces them after parsing).
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "label", "score", "confidence", "event_type", "impact", "symbols",
                     "reasoning"],
        "properties": {
            "id": {"type": "integer"},
            "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
            "score": {"type": "number"},
            "confidence": {"type": "number"},
            "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
            "impact": {"type": "integer"},
            "symbols": {"type": "array", "items": {"type": "string"}},
            "reasoning": {"type": "string"},
        },
    }}},
}


@dataclass
class Budget:
    """Requests and tokens spent today (UTC); a limit of 0 means unlimited."""

    max_requests: int
    max_tokens: int
    day: date | None = None
    requests: int = 0
    tokens: int = 0
    alerted: bool = False

    def roll(self, today: date) -> None:
        if self.day != today:
            self.day, self.requests, self.tokens, self.alerted = today, 0, 0, False

    def exhausted(self) -> str | None:
        """Why no further request may be sent today, or None."""
        if self.max_requests and self.requests >= self.max_requests:
            return f"daily request budget ({self.max_requests}) spent"
        if self.max_tokens and self.tokens >= self.max_tokens:
            return f"daily token budget ({self.max_tokens}) spent"
        return None


class OpenAIScorer:
    """Scores headlines with an OpenAI-compatible chat model; see the module docstring."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        batch_size: int = 20,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        daily_requests: int = 500,
        daily_tokens: int = 500_000,
        fallback: Scorer | None = None,
        cache_size: int = 10_000,
        alert: Callable[[str], None] | None = None,
        http_client: httpx.AsyncClient | None = None,
        tagger: SymbolTagger | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        market_context: MarketContextFn | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._base_url = base_url
        self._api_key = api_key or "not-needed"  # local servers often take any key
        self.model = model
        self.batch_size = batch_size
        self._timeout = timeout_s
        self._retries = max_retries
        self.budget = Budget(daily_requests, daily_tokens)
        self.fallback = fallback
        self._cache: OrderedDict[str, Score] = OrderedDict()
        self._cache_size = cache_size
        self._alert = alert
        self._http_client = http_client
        self._tagger = tagger or SymbolTagger()
        self._clock = clock
        self._clients: dict[int, Any] = {}
        self.requests_sent = 0
        self.market_context = market_context

    @classmethod
    def from_settings(
        cls,
        s: SentimentSettings,
        *,
        alert: Callable[[str], None] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> OpenAIScorer:
        fallback: Scorer | None = None
        if s.openai_fallback:
            from sentiment.headline import HeadlineScorer

            try:  # the default offline scorer (rules + model); the rules if no model file
                fallback = HeadlineScorer(extra_lexicon=s.extra_lexicon,
                                          aliases=s.symbol_aliases)
            except ScorerError:
                fallback = LexiconScorer(extra_lexicon=s.extra_lexicon,
                                         aliases=s.symbol_aliases)
        return cls(
            base_url=s.openai_base_url,
            api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
            model=s.openai_model, batch_size=s.openai_batch_size, timeout_s=s.openai_timeout_s,
            max_retries=s.openai_max_retries, daily_requests=s.openai_daily_requests,
            daily_tokens=s.openai_daily_tokens, fallback=fallback,
            cache_size=s.openai_cache_size, alert=alert, http_client=http_client,
            tagger=SymbolTagger(s.symbol_aliases),
        )

    # --- plumbing ----------------------------------------------------------------------

    def _client(self) -> Any:
        """One AsyncOpenAI per event loop (a client's pool is bound to its loop)."""
        loop = asyncio.get_running_loop()
        c = self._clients.get(id(loop))
        if c is None:
            import openai

            kw: dict[str, Any] = {}
            if self._http_client is not None:
                kw["http_client"] = self._http_client
            c = openai.AsyncOpenAI(base_url=self._base_url, api_key=self._api_key,
                                   timeout=self._timeout, max_retries=self._retries, **kw)
            self._clients = {id(loop): c}
        return c

    def cache_key(self, text: str, context: str = "") -> str:
        return hashlib.sha256(
            f"{self.model}\x00{PROMPT_VERSION}\x00{text}\x00{context}".encode()
        ).hexdigest()

    def _contexts(self, texts: Sequence[str], given: MarketContexts | None = None,
                  ) -> tuple[dict[str, MarketContext], list[str]]:
        """Market context of the coins in `texts` (`given`, else the provider's), and
        each text's cache-key part."""
        if given is None and self.market_context is None:
            return {}, [""] * len(texts)
        syms = [self._tagger.tag(t) for t in texts]
        if given is not None:
            ctx = {k.upper(): v for k, v in given.items() if isinstance(v, MarketContext)}
        else:
            assert self.market_context is not None
            try:
                ctx = dict(self.market_context(sorted({x for ss in syms for x in ss})))
            except Exception:  # a context provider must not break scoring
                log.exception("market context provider failed; scoring without context")
                return {}, [""] * len(texts)
        return ctx, [",".join(f"{x}={ctx[x].bucket()}" for x in ss if x in ctx) for ss in syms]

    def _remember(self, key: str, score: Score) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = score
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _check_budget(self) -> None:
        self.budget.roll(self._clock().astimezone(UTC).date())
        why = self.budget.exhausted()
        if why is None:
            return
        if not self.budget.alerted:
            self.budget.alerted = True
            msg = (f"openai scorer: {why}; "
                   + ("falling back to lexicon" if self.fallback else "scoring paused")
                   + " until 00:00 UTC")
            log.warning(msg)
            if self._alert is not None:
                try:
                    self._alert(msg)
                except Exception:  # an alert sink must not break scoring
                    log.exception("alert hook failed")
        raise BudgetExceeded(why)

    async def _request(self, texts: Sequence[str],
                       ctx: Mapping[str, MarketContext] | None = None) -> list[Score]:
        import openai

        body: dict[str, object] = {"headlines": [{"id": i, "text": t}
                                                 for i, t in enumerate(texts)]}
        if ctx:
            wanted = {x for t in texts for x in self._tagger.tag(t)}
            market = {k: v.as_dict() for k, v in sorted(ctx.items()) if k in wanted}
            if market:
                body["market"] = market
        payload = json.dumps(body, ensure_ascii=False)
        try:
            resp = await self._client().chat.completions.create(
                model=self.model,
                temperature=0,
                messages=[{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": payload}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "headline_verdicts", "strict": True, "schema": RESPONSE_SCHEMA}},
            )
        except openai.APIError as exc:  # timeouts, connection, status errors
            raise ScorerError(f"openai request failed: {type(exc).__name__}"
                              + (f" (HTTP {exc.status_code})"
                                 if isinstance(exc, openai.APIStatusError) else "")) from None
        finally:
            self.budget.requests += 1
            self.requests_sent += 1
        usage = getattr(resp, "usage", None)
        spent = getattr(usage, "total_tokens", None)
        self.budget.tokens += int(spent) if spent else (len(payload) + 400) // 4
        try:
            content = resp.choices[0].message.content or ""
            verdicts = Verdicts.model_validate_json(content)
        except (IndexError, AttributeError, ValidationError) as exc:
            raise ScorerError(f"openai reply does not match the schema: "
                              f"{type(exc).__name__}") from None
        by_id = {v.id: v for v in verdicts.items}
        missing = [i for i in range(len(texts)) if i not in by_id]
        if missing:
            raise ScorerError(f"openai reply lacks {len(missing)} of {len(texts)} headlines")
        out = []
        for i, text in enumerate(texts):
            v = by_id[i]
            llm_syms = [s.strip().upper().lstrip("$") for s in v.symbols]
            syms = tuple(dict.fromkeys(
                [s for s in llm_syms if s.isalnum() and len(s) <= 10]
                + list(self._tagger.tag(text))))
            out.append(Score(label=v.label, score=v.score, confidence=v.confidence,
                             event_type=v.event_type, impact=v.impact, symbols=syms,
                             scorer=self.name, reasoning=v.reasoning[:500]))
        return out

    async def _chunk(self, texts: Sequence[str],
                     ctx: Mapping[str, MarketContext] | None = None) -> list[Score]:
        try:
            self._check_budget()
            return await self._request(texts, ctx)
        except ScorerError as exc:
            if self.fallback is None:
                raise
            if not isinstance(exc, BudgetExceeded):
                log.warning("openai scorer: %s; falling back to lexicon for %d headlines",
                            exc, len(texts))
            return await self.fallback.ascore(texts)

    # --- Scorer protocol ---------------------------------------------------------------

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]:
        """Cached verdicts for known texts; misses go out `batch_size` per request, each
        with the `context` of the coins its headlines name."""
        ctx, parts = self._contexts(texts, context)
        keys = [self.cache_key(t, c) for t, c in zip(texts, parts, strict=True)]
        out: list[Score | None] = [self._cache.get(k) for k in keys]
        todo: dict[str, int] = {}
        for i, (k, s) in enumerate(zip(keys, out, strict=True)):
            if s is None and k not in todo:
                todo[k] = i
        miss = list(todo.items())
        for start in range(0, len(miss), self.batch_size):
            part = miss[start : start + self.batch_size]
            scores = await self._chunk([texts[i] for _, i in part], ctx)
            for (k, _i), sc in zip(part, scores, strict=True):
                if sc.scorer == self.name:  # fallback verdicts are not cached
                    self._remember(k, sc)
                for j, kk in enumerate(keys):
                    if kk == k:
                        out[j] = sc
        return [s for s in out if s is not None]

    def score(self, texts: Sequence[str],
              context: MarketContexts | None = None) -> list[Score]:
        """Synchronous form for the CLI; from async code use `ascore`."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ascore(texts, context))
        raise ScorerError("OpenAIScorer.score() called inside an event loop; await ascore()")
