"""DB adapter for the sentiment pipeline: `sentiment` knows no DB; this file maps its
plain values (`RawItem`, `Score`, `ScoredItem`) onto `NewsItem` / `SentimentScore` rows.

Guarantees the rest of the engine relies on:

* an item is stored once: dedup on the canonical-URL key *and* the title hash, against the
  DB and within the batch (the unique index on `dedup_key` settles races);
* an item is scored at most once per scorer (`UNIQUE(news_item_id, scorer)`; a second
  attempt is skipped, not an error);
* `poll()` never raises out of its scheduler job: it logs and returns how many new items
  it stored. Items are saved before scoring, so a scorer outage loses nothing: the next
  poll scores what is still unscored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.storage.models import NewsItem, SentimentScore
from sentiment.aggregate import Aggregator
from sentiment.config import SentimentSettings
from sentiment.dedup import with_keys
from sentiment.items import MarketContext, MarketContexts, RawItem, ScoredItem, Scorer
from sentiment.scorers import AlertHook, make_scorer
from sentiment.sources import NewsCollector

__all__ = [
    "load_aggregator",
    "load_scored",
    "market_contexts",
    "poll",
    "save_items",
    "score_pending",
    "unscored",
]

log = logging.getLogger(__name__)

SessionMaker = Callable[[], Session]

_CHUNK = 500  # IN (...) lists stay well below SQLite's variable limit


def _section(settings: Any) -> SentimentSettings:
    """Accept the engine's `Settings` or its `[sentiment]` section."""
    if isinstance(settings, SentimentSettings):
        return settings
    sec = getattr(settings, "sentiment", None)
    if isinstance(sec, SentimentSettings):
        return sec
    raise TypeError("settings must be engine Settings or SentimentSettings")


def save_items(session_factory: SessionMaker, items: Sequence[RawItem]) -> list[NewsItem]:
    """Insert the items not yet stored (by URL key or title hash); return only new rows."""
    keyed = [it if it.dedup_key and it.title_hash else with_keys(it) for it in items]
    if not keyed:
        return []
    with session_factory() as s:
        seen_keys: set[str] = set()
        seen_titles: set[str] = set()
        for i in range(0, len(keyed), _CHUNK):
            part = keyed[i : i + _CHUNK]
            seen_keys.update(s.exec(select(NewsItem.dedup_key).where(
                col(NewsItem.dedup_key).in_([x.dedup_key for x in part]))).all())
            seen_titles.update(s.exec(select(NewsItem.title_hash).where(
                col(NewsItem.title_hash).in_([x.title_hash for x in part]))).all())
        new_rows: list[NewsItem] = []
        for it in keyed:
            if it.dedup_key in seen_keys or it.title_hash in seen_titles:
                continue
            seen_keys.add(it.dedup_key)
            seen_titles.add(it.title_hash)
            row = NewsItem(
                dedup_key=it.dedup_key, title_hash=it.title_hash, source=it.source[:64],
                source_kind=it.source_kind[:16], url=it.url[:2048], title=it.title[:1024],
                summary=it.summary, published_at=it.published_at, fetched_at=it.fetched_at,
                symbols=list(it.symbols),
            )
            try:
                with s.begin_nested():
                    s.add(row)
                    s.flush()
            except IntegrityError:  # a concurrent poll stored it first
                continue
            new_rows.append(row)
        s.commit()
        for r in new_rows:
            s.refresh(r)
        return new_rows


def unscored(session_factory: SessionMaker, scorer: str, limit: int = 500) -> list[NewsItem]:
    """Items without a score from `scorer`, oldest first (so backlogs drain in order)."""
    with session_factory() as s:
        done = select(SentimentScore.news_item_id).where(SentimentScore.scorer == scorer)
        rows = s.exec(select(NewsItem).where(col(NewsItem.id).not_in(done))
                      .order_by(col(NewsItem.published_at), col(NewsItem.id))
                      .limit(limit)).all()
        return list(rows)


def _store_scores(
    session_factory: SessionMaker, scorer_name: str, pairs: Sequence[tuple[NewsItem, Any]]
) -> int:
    stored = 0
    with session_factory() as s:
        for item, sc in pairs:
            if item.id is None:
                continue
            syms = list(dict.fromkeys([*(item.symbols or []), *sc.symbols]))
            row = SentimentScore(
                news_item_id=item.id, scorer=scorer_name, label=sc.label, score=sc.score,
                confidence=sc.confidence, event_type=sc.event_type, impact=sc.impact,
                symbols=syms,
            )
            try:
                with s.begin_nested():
                    s.add(row)
                    s.flush()
            except IntegrityError:  # already scored by this scorer: never twice
                continue
            stored += 1
        s.commit()
    return stored


async def score_pending(
    session_factory: SessionMaker, scorer: Scorer, *, limit: int = 500, batch: int = 64,
    context: MarketContexts | None = None,
) -> int:
    """Score items that `scorer` has not scored yet; returns how many scores were stored.

    Scores are stored under the scorer's own name; if the openai scorer fell back to the
    lexicon for a batch, those rows say `lexicon`, so the item stays eligible for a real
    `openai` score on a later poll. `context` (the market now, per symbol) goes to the
    scorer's optional `context` parameter; it is not passed when None, so scorers
    written before the parameter existed keep working.
    """
    items = await asyncio.to_thread(unscored, session_factory, scorer.name, limit)
    stored = 0
    for i in range(0, len(items), batch):
        part = items[i : i + batch]
        titles = [it.title for it in part]
        scores = await (scorer.ascore(titles) if context is None
                        else scorer.ascore(titles, context=context))
        by_name: dict[str, list[tuple[NewsItem, Any]]] = {}
        for it, sc in zip(part, scores, strict=True):
            by_name.setdefault(sc.scorer or scorer.name, []).append((it, sc))
        for name, pairs in by_name.items():
            stored += await asyncio.to_thread(_store_scores, session_factory, name, pairs)
    return stored


def scored_rows(
    session_factory: SessionMaker,
    scorer: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fallback: str | None = "lexicon",
) -> list[tuple[NewsItem, SentimentScore]]:
    """Each stored item once, with `scorer`'s score or else `fallback`'s, in publication
    order: the one read of stored news (aggregation, the engine's NewsBook, backtests)."""
    names = [scorer] if not fallback or fallback == scorer else [scorer, fallback]
    with session_factory() as s:
        q = (select(NewsItem, SentimentScore)
             .join(SentimentScore, col(SentimentScore.news_item_id) == col(NewsItem.id))
             .where(col(SentimentScore.scorer).in_(names)))
        if since is not None:
            q = q.where(col(NewsItem.published_at) >= since)
        if until is not None:
            q = q.where(col(NewsItem.published_at) <= until)
        rows = s.exec(q.order_by(col(NewsItem.published_at), col(NewsItem.id))).all()
    best: dict[int, tuple[NewsItem, SentimentScore]] = {}
    for item, sc in rows:
        if item.id is None:
            continue
        have = best.get(item.id)
        if have is None or (sc.scorer == scorer and have[1].scorer != scorer):
            best[item.id] = (item, sc)
    return list(best.values())


def load_scored(
    session_factory: SessionMaker,
    scorer: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fallback: str | None = "lexicon",
) -> list[ScoredItem]:
    """The scored series for aggregation: items published in [since, until], each with
    `scorer`'s score, or `fallback`'s where `scorer` has none (e.g. the openai scorer
    fell back during an outage), so an outage never blanks the signal."""
    best = scored_rows(session_factory, scorer, fallback=fallback, since=since, until=until)
    return [
        ScoredItem(published_at=item.published_at, source_kind=item.source_kind,
                   score=sc.score, confidence=sc.confidence,
                   symbols=tuple(sc.symbols or item.symbols or ()))
        for item, sc in best
    ]


def load_aggregator(
    session_factory: SessionMaker,
    settings: Any,
    *,
    scorer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Aggregator:
    """An `Aggregator` over the stored scores of `scorer` (default: the configured one)."""
    sec = _section(settings)
    return Aggregator.from_settings(
        load_scored(session_factory, scorer or sec.scorer, since=since, until=until), sec)


def market_contexts(closes: Mapping[str, Sequence[float]], bars_per_day: int,
                    ) -> dict[str, MarketContext]:
    """Each symbol's context from its recent closes, oldest first (at least a day and
    51 bars): last price, change over the last `bars_per_day` bars, RSI(14) and the trend
    (EMA 20 vs EMA 50, more than 0.5% apart; else sideways). Symbols with too few
    closes are left out. Keys are base assets ("BTC/USDT" -> "BTC"), as in headlines."""
    import numpy as np

    from engine.indicators import ema, rsi

    out: dict[str, MarketContext] = {}
    for sym, seq in closes.items():
        c = np.asarray(seq, dtype=np.float64)
        recent = c[-bars_per_day - 1:]
        if len(c) <= max(bars_per_day, 50) or not (np.isfinite(recent).all()
                                                   and (recent > 0).all()):
            continue
        fast, slow = float(ema(c, 20)[-1]), float(ema(c, 50)[-1])
        gap = (fast - slow) / slow if slow > 0 else 0.0
        try:  # MarketContext refuses non-finite or out-of-range values: skip the symbol
            out[sym.split("/")[0].upper()] = MarketContext(
                price=float(c[-1]),
                change_24h_pct=100.0 * (c[-1] / c[-1 - bars_per_day] - 1.0),
                rsi_14=float(rsi(c, 14)[-1]),
                trend="up" if gap > 0.005 else "down" if gap < -0.005 else "sideways")
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
    return out


# --- the scheduler job -------------------------------------------------------------------

_collectors: dict[str, NewsCollector] = {}
_scorers: dict[str, Scorer] = {}


def _collector_for(sec: SentimentSettings, client: httpx.AsyncClient) -> NewsCollector:
    """One collector per settings, kept across polls (it remembers ETags and rate slots)."""
    key = sec.model_dump_json()
    c = _collectors.get(key)
    if c is None:
        c = NewsCollector.from_settings(sec, client)
        c.fetcher.defer_validators = True  # committed by poll() once items are stored
        _collectors.clear()
        _collectors[key] = c
    c.fetcher.use_client(client)
    return c


def _scorer_for(sec: SentimentSettings, alert: AlertHook | None) -> Scorer:
    """One scorer per settings, kept across polls (a model loads once; caches persist)."""
    key = sec.model_dump_json()
    sc = _scorers.get(key)
    if sc is None:
        sc = make_scorer(sec.scorer, sec, alert=alert)
        _scorers.clear()
        _scorers[key] = sc
    return sc


async def poll(
    session_factory: SessionMaker,
    settings: Any,
    client: httpx.AsyncClient | None = None,
    *,
    collector: NewsCollector | None = None,
    scorer: Scorer | None = None,
    alert: AlertHook | None = None,
    market_context: Callable[[], MarketContexts] | None = None,
) -> int:
    """Fetch all sources, store new items, score what is unscored; return the number of
    new items. Never raises (except cancellation): failures are logged.

    `market_context()` returns the market now per symbol (`market_contexts` builds it
    from candles); the LLM scorer sends it with the headlines. If it fails, scoring goes
    on without it."""
    try:
        sec = _section(settings)
    except TypeError as exc:
        log.error("news poll: %s", exc)
        return 0
    own_client = client is None
    http = client or httpx.AsyncClient()
    new_count = 0
    try:
        col_ = collector or _collector_for(sec, http)
        try:
            result = await col_.collect()
            new_rows = await asyncio.to_thread(save_items, session_factory, result.items)
        except BaseException:
            col_.fetcher.discard_validators()  # refetch in full next time: nothing lost
            raise
        col_.fetcher.commit_validators()
        new_count = len(new_rows)
        log.info("news poll: %d fetched, %d new, %d sources failed",
                 len(result.items), new_count, len(result.errors))
        sc = scorer or _scorer_for(sec, alert)
        ctx: MarketContexts | None = None
        if market_context is not None:
            try:
                ctx = market_context()
            except Exception as exc:  # the market view must not stop news scoring
                log.warning("news poll: no market context (%s: %s)", type(exc).__name__, exc)
        scored = await score_pending(session_factory, sc, context=ctx)
        log.info("news poll: %d scores stored by %s", scored, sc.name)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("news poll failed: %s: %s", type(exc).__name__, exc,
                  exc_info=log.isEnabledFor(logging.DEBUG))
    finally:
        if own_client:
            await http.aclose()
    return new_count
