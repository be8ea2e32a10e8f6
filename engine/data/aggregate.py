"""Trades -> right-aligned candles, closed by trades or by the clock.

The 09:05 candle covers (09:00, 09:05]: a trade stamped exactly 09:05:00.000 belongs to
it, one at 09:05:00.001 to the 09:10 candle (DESIGN.md's close-time stamps). A candle is
emitted once, when a trade arrives past its close or when the clock passes it
(`close_until`), so a quiet market still closes candles on time; a period without any
trade becomes a flat candle at the last price with zero volume, as exchanges print it,
so the series has no holes. A trade older than the candle being built (a late or
reordered message) is counted and ignored: what is emitted never changes.

This runs once per trade per timeframe, so it is plain attribute arithmetic: no objects
are built until a candle closes. `check_bar` is the one validation of a closed candle
against the previous one (gap, duplicate, OHLC sanity), for the collector's candles and
the streamed ones alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.clock import ms_to_dt
from engine.data.candles import Bar, timeframe_ms


class CandleBuilder:
    """One symbol, one timeframe."""

    __slots__ = (
        "c",
        "close_ms",
        "done_ms",
        "fill_empty",
        "h",
        "l",
        "last_price",
        "late",
        "o",
        "open_ms",
        "step",
        "symbol",
        "timeframe",
        "v",
    )

    def __init__(self, symbol: str, timeframe: str, fill_empty: bool = True) -> None:
        self.symbol, self.timeframe = symbol, timeframe
        self.step = timeframe_ms(timeframe)
        self.close_ms = -1  # the forming candle's close time; -1: none
        self.open_ms = -1  # ... and its open (exclusive): (open_ms, close_ms]
        self.done_ms = -1  # the last emitted candle's close time; -1: none
        self.o = self.h = self.l = self.c = self.v = 0.0
        self.last_price: float | None = None
        self.late = 0
        self.fill_empty = fill_empty

    def _emit(self, out: list[Bar]) -> None:
        out.append(Bar(self.symbol, self.timeframe, ms_to_dt(self.close_ms), self.o, self.h,
                       self.l, self.c, self.v))
        self.done_ms, self.last_price = self.close_ms, self.c
        self.close_ms = self.open_ms = -1

    def _flat(self, until_ms: int, out: list[Bar]) -> None:
        """Flat zero-volume candles after the last emitted one, up to `until_ms`."""
        p = self.last_price
        if not self.fill_empty or p is None or self.done_ms < 0:
            return
        t = self.done_ms + self.step
        while t <= until_ms:
            out.append(Bar(self.symbol, self.timeframe, ms_to_dt(t), p, p, p, p, 0.0))
            self.done_ms = t
            t += self.step

    def add(self, ts_ms: int, price: float, amount: float, out: list[Bar]) -> None:
        """One trade; the candles it closes are appended to `out`."""
        if self.open_ms < ts_ms <= self.close_ms:  # the forming candle (most trades)
            if price > self.h:
                self.h = price
            elif price < self.l:
                self.l = price
            self.c = price
            self.v += amount
            return
        close = -(-ts_ms // self.step) * self.step
        if close <= self.done_ms or close < self.close_ms:
            self.late += 1
            return
        if self.close_ms > 0:
            self._emit(out)
        self._flat(close - self.step, out)
        self.close_ms, self.open_ms = close, close - self.step
        self.o = self.h = self.l = self.c = price
        self.v = amount

    def close_until(self, now_ms: int, out: list[Bar]) -> None:
        """Close every candle whose close time is at or before `now_ms`."""
        if self.close_ms > 0 and now_ms >= self.close_ms:
            self._emit(out)
        if self.close_ms < 0:
            self._flat(now_ms, out)


@dataclass(frozen=True, slots=True)
class CandleAlert:
    kind: str  # gap | duplicate | ohlc
    symbol: str
    timeframe: str
    close_ms: int
    detail: str


def check_bar(prev_close_ms: int | None, bar: Bar, step: int) -> CandleAlert | None:
    """What is wrong with `bar` after a candle closing at `prev_close_ms`, if anything."""
    ms = bar.close_ms
    if prev_close_ms is not None and ms <= prev_close_ms:
        return CandleAlert("duplicate", bar.symbol, bar.timeframe, ms,
                           f"close time {ms} not after the previous {prev_close_ms}")
    vals = (bar.open, bar.high, bar.low, bar.close, bar.volume)
    if (not all(math.isfinite(v) for v in vals) or bar.low <= 0 or bar.volume < 0
            or bar.low > min(bar.open, bar.close) or bar.high < max(bar.open, bar.close)):
        return CandleAlert("ohlc", bar.symbol, bar.timeframe, ms,
                           f"OHLCV {vals} fail low <= open, close <= high")
    if prev_close_ms is not None and ms > prev_close_ms + step:
        return CandleAlert("gap", bar.symbol, bar.timeframe, ms,
                           f"{(ms - prev_close_ms) // step - 1} candle(s) missing before")
    return None
