"""Hooks around a running `engine.service.engine.Engine` for the API's live feeds.

`engine/service/**` belongs to the engine and has no hook for observers, so the few
entry points the scheduler calls (`on_bar`, `warm`, `tick`, `refresh_sentiment`) are
wrapped on the instance: the wrapper times the call for `/metrics` and publishes candles
to the hub, then returns the engine's own result unchanged. A wrapper never raises on
its own account and never waits on a client. (A first-class observer hook in the
engine would replace this module; see docs/api.md.)
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from engine.data.candles import Bar
from web.hub import Hub
from web.metrics import Metrics

log = logging.getLogger("sentitrade.web")
_MARK = "_web_instrumented"


def bar_message(bar: Bar) -> dict[str, Any]:
    return {"type": "bar", "symbol": bar.symbol, "timeframe": bar.timeframe,
            "t": bar.ts.timestamp(), "o": bar.open, "h": bar.high, "l": bar.low,
            "c": bar.close, "v": bar.volume}


def instrument(engine: Any, hub: Hub, metrics: Metrics) -> bool:
    """Wrap `engine`'s entry points once; False when it is not an in-process Engine."""
    if getattr(engine, _MARK, False) or not hasattr(engine, "on_bar"):
        return False

    def seen(bar: Bar) -> None:
        try:
            metrics.last_bar[bar.symbol] = bar.ts.timestamp()
            hub.publish(bar_message(bar))
        except Exception:  # an observer must never break the engine
            log.exception("publishing a candle failed")

    on_bar: Callable[[Bar], Any] = engine.on_bar

    @functools.wraps(on_bar)
    async def timed_on_bar(bar: Bar) -> Any:
        t0 = time.perf_counter()
        try:
            return await on_bar(bar)
        finally:
            metrics.execution.labels("on_bar").observe(time.perf_counter() - t0)
            seen(bar)

    warm: Callable[[Bar], None] = engine.warm

    @functools.wraps(warm)
    def seen_warm(bar: Bar) -> None:
        warm(bar)
        metrics.last_bar[bar.symbol] = bar.ts.timestamp()

    tick: Callable[[], Any] = engine.tick

    @functools.wraps(tick)
    async def timed_tick() -> Any:
        t0 = time.perf_counter()
        try:
            return await tick()
        finally:
            metrics.tick.observe(time.perf_counter() - t0)

    refresh: Callable[[], list[Any]] = engine.refresh_sentiment

    @functools.wraps(refresh)
    def counted_refresh() -> list[Any]:
        try:
            new = refresh()
        except Exception:
            metrics.news_polls.labels("error").inc()
            raise
        metrics.news_polls.labels("ok" if new else "empty").inc()
        metrics.news_headlines.inc(len(new))
        for h in new:
            hub.publish({"type": "news", "title": h.title, "source": h.source,
                         "score": h.score, "symbols": list(h.symbols),
                         "published_at": h.published_at.isoformat()})
        return new

    engine.on_bar = timed_on_bar
    engine.warm = seen_warm
    engine.tick = timed_tick
    engine.refresh_sentiment = counted_refresh
    setattr(engine, _MARK, True)
    return True
