"""Breakers on live prices: what the market-data streams tell the risk monitor.

Candle closes alone cannot trip a price-spike rule whose window (60 s by default) is
shorter than a candle; `SpikeWindow` runs the rule on every trade and ticker price,
over the last `price_spike_window_seconds` of exchange time, in O(1) amortised per
price (monotonic queues for the window's high and low). `LiveGuard` listens to a feed
(`engine.data.stream.FeedListener`): prices go to the spike window, feed errors and
disconnects count toward the API-error breaker, a silent (stale) stream trips
`feed_stale`, which pauses entries until the stream recovers.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.risk.checks import RULE_ACTION, Trip
from engine.storage.config import RiskSettings

if TYPE_CHECKING:
    from engine.data.stream import Tick

log = logging.getLogger("sentitrade.risk.live")

# rules of the live feed beside checks.RULE_ACTION (which they extend, never change)
LIVE_RULE_ACTION = {"feed_stale": "pause_entries"}


@dataclass
class LiveTrip(Trip):
    """A trip whose rule may be one of the live feed's own."""

    @property
    def action(self) -> str:
        return LIVE_RULE_ACTION.get(self.rule) or RULE_ACTION[self.rule]


class SpikeWindow:
    """One symbol's prices over the last `window_ms`: the move from the window's first
    price to its extreme, as `BreakerMonitor.evaluate` measures it on candles."""

    __slots__ = ("hi", "lo", "prices", "seq", "window_ms")

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.prices: deque[tuple[int, int, float]] = deque()  # (seq, ts, price)
        self.hi: deque[tuple[int, float]] = deque()  # (seq, price), decreasing
        self.lo: deque[tuple[int, float]] = deque()  # (seq, price), increasing
        self.seq = 0

    def add(self, ts_ms: int, price: float) -> float:
        """Add a price; returns the move in % over the window (0 when too few)."""
        self.seq += 1
        s = self.seq
        self.prices.append((s, ts_ms, price))
        hi, lo = self.hi, self.lo
        while hi and hi[-1][1] <= price:
            hi.pop()
        hi.append((s, price))
        while lo and lo[-1][1] >= price:
            lo.pop()
        lo.append((s, price))
        horizon = ts_ms - self.window_ms
        prices = self.prices
        while prices[0][1] < horizon:
            old = prices.popleft()[0]
            if hi[0][0] == old:
                hi.popleft()
            if lo[0][0] == old:
                lo.popleft()
        ref = prices[0][2]
        if ref <= 0 or len(prices) < 2:
            return 0.0
        return max(abs(hi[0][1] / ref - 1), abs(lo[0][1] / ref - 1)) * 100

    def clear(self) -> None:
        self.prices.clear()
        self.hi.clear()
        self.lo.clear()


class LiveGuard:
    """A feed listener that turns prices and feed health into breaker trips.

    `trip` receives each `LiveTrip` (the engine writes it, alerts and acts);
    `api_error` counts one error toward the API-error breaker; `recovered` is told when
    a stale stream speaks again (the engine clears `feed_stale`)."""

    def __init__(self, lim: RiskSettings, *, trip: Callable[[LiveTrip], None],
                 api_error: Callable[[], None],
                 recovered: Callable[[str], None] | None = None,
                 coalesce_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lim = lim
        self.window_ms = lim.price_spike_window_seconds * 1000
        self.windows: dict[str, SpikeWindow] = {}
        self.trip = trip
        self.api_error = api_error
        self.recovered = recovered
        self.stale: set[str] = set()
        self.trips = 0
        self.coalesce_s, self.monotonic = coalesce_s, monotonic
        self._last_error = -1e18
        self.errors_counted = 0

    def _count_error(self) -> None:
        # one dropped line fails every stream on it at once: that is one error, not one
        # per stream (a storm of reconnect failures still counts, one per second)
        now = self.monotonic()
        if now - self._last_error >= self.coalesce_s:
            self.errors_counted += 1
            self.api_error()
        self._last_error = now

    def on_tick(self, tick: Tick) -> None:
        sym = tick.symbol
        w = self.windows.get(sym)
        if w is None:
            w = self.windows[sym] = SpikeWindow(self.window_ms)
        move = w.add(tick.ts_ms, tick.price)
        if move > self.lim.price_spike_pct:
            at = datetime.fromtimestamp(tick.ts_ms / 1000, UTC)
            w.clear()
            self.trips += 1
            log.warning("price spike on %s: %.2f %% within %d s", sym, move,
                        self.lim.price_spike_window_seconds)
            self.trip(LiveTrip("price_spike", move, self.lim.price_spike_pct, at, scope=sym,
                               detail={"source": "ticks"}))

    def on_feed_error(self, stream: str, error: BaseException) -> None:
        self._count_error()

    def on_stale(self, stream: str, silent_s: float) -> None:
        self._count_error()
        if stream in self.stale:
            return
        self.stale.add(stream)
        self.trip(LiveTrip("feed_stale", silent_s, silent_s, None, scope=stream,
                           detail={"stream": stream}))

    def on_recovered(self, stream: str) -> None:
        if stream in self.stale:
            self.stale.discard(stream)
            if self.recovered is not None:
                self.recovered(stream)
