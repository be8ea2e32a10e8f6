"""Market data: providers behind one interface (replay files, ccxt polling), a
tick-to-candle aggregator and candle validation.

Everything leaves here as `Bar`s stamped with their CLOSE time (the boundary where the
files' and ccxt's open-time stamps are converted, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.clock import ManualClock, ms_to_dt
from engine.data.candles import DEMO_DATA_DIR, Bar, Candles, load_candles, timeframe_ms


class MarketData(Protocol):
    """A provider of closed candles."""

    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        ...


def bars_from(c: Candles) -> Iterator[Bar]:
    ct = c.close_time
    for i in range(len(c)):
        yield Bar(c.symbol, c.timeframe, ms_to_dt(int(ct[i])), float(c.open[i]),
                  float(c.high[i]), float(c.low[i]), float(c.close[i]), float(c.volume[i]))


@dataclass(frozen=True, slots=True)
class CandleIssue:
    kind: str  # gap | duplicate | unsorted | ohlc
    index: int
    detail: str


def validate_candles(c: Candles) -> list[CandleIssue]:
    """Gaps, duplicates, out-of-order stamps and OHLC that cannot be (low > high...)."""
    out: list[CandleIssue] = []
    step = timeframe_ms(c.timeframe)
    d = np.diff(c.open_time)
    for i in np.flatnonzero(d == 0):
        out.append(CandleIssue("duplicate", int(i) + 1, f"stamp {int(c.open_time[i])} twice"))
    for i in np.flatnonzero(d < 0):
        out.append(CandleIssue("unsorted", int(i) + 1, "stamp earlier than the previous one"))
    for i in np.flatnonzero(d > step):
        out.append(CandleIssue("gap", int(i) + 1, f"{int(d[i] // step) - 1} candle(s) missing"))
    bad = ((c.low > np.minimum(c.open, c.close)) | (c.high < np.maximum(c.open, c.close))
           | (c.low > c.high) | (c.volume < 0) | ~np.isfinite(c.close))
    for i in np.flatnonzero(bad):
        out.append(CandleIssue("ohlc", int(i), "OHLC values are inconsistent"))
    return out


class CandleAggregator:
    """Trades/ticks -> right-aligned candles, one at a time: a bar is emitted when a tick
    arrives past its close time (or on `flush(now)`), stamped with that close time
    (`engine.data.aggregate.CandleBuilder` without the flat candles of empty periods)."""

    def __init__(self, symbol: str, timeframe: str) -> None:
        from engine.data.aggregate import CandleBuilder

        self.symbol, self.timeframe = symbol, timeframe
        self._b = CandleBuilder(symbol, timeframe, fill_empty=False)
        self.step = self._b.step

    def add(self, ts_ms: int, price: float, volume: float = 0.0) -> Bar | None:
        out: list[Bar] = []
        self._b.add(ts_ms, price, volume, out)
        return out[0] if out else None

    def flush(self, now_ms: int) -> Bar | None:
        out: list[Bar] = []
        self._b.close_until(now_ms, out)
        return out[0] if out else None


def load_replay_candles(data: Path, symbols: list[str], timeframe: str) -> dict[str, Candles]:
    """The folder's `timeframe` files; else built from the longest shorter timeframe the
    folder holds for every symbol (a 15m bot replays from 5m files)."""
    from engine.data.resample import resample
    from engine.errors import DataError

    try:
        return load_candles(data, symbols, timeframe)
    except DataError:
        step = timeframe_ms(timeframe)
        for src in sorted(("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h"),
                          key=timeframe_ms, reverse=True):
            if timeframe_ms(src) >= step or step % timeframe_ms(src):
                continue
            try:
                base = load_candles(data, symbols, src)
            except DataError:
                continue
            return {s: resample(c, timeframe) for s, c in base.items()}
        raise


class ReplayFeed:
    """Candles from files, merged across symbols and timeframes in close-time order,
    driving a `ManualClock`: `replay_speed` steps per second (0 = as fast as possible).

    Each bar carries the next candle's open (where an order decided on it executes, as
    in the backtester) and the month's price step derived from the file (Freqtrade's
    rule). A step holds every bar that closes at one instant, timeframes in ascending
    order (the 09:00 5m, 15m and 1h candles arrive together)."""

    def __init__(self, data: Path | None, symbols: Sequence[str], timeframe: str | Sequence[str],
                 clock: ManualClock, speed: float = 0.0,
                 start_ms: int | None = None, end_ms: int | None = None) -> None:
        from engine.data.pricestep import monthly_tick_decimals

        tfs = [timeframe] if isinstance(timeframe, str) else sorted(
            set(timeframe), key=timeframe_ms)
        self.candles: dict[tuple[str, str], Candles] = {}
        self.ticks: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
        folder = Path(data or DEMO_DATA_DIR)
        for tf in tfs:
            for sym, c in load_replay_candles(folder, list(symbols), tf).items():
                if start_ms is not None or end_ms is not None:
                    c = c.between(start_ms, end_ms)
                if len(c) == 0:
                    continue
                self.candles[(sym, tf)] = c
                self.ticks[(sym, tf)] = monthly_tick_decimals(c.open_time, c.open, c.high,
                                                              c.low, c.close)
        self.clock = clock
        self.speed = speed
        self.timeframes = tfs
        self.timeframe = tfs[0]

    def _bar(self, key: tuple[str, str], i: int) -> Bar:
        c = self.candles[key]
        last = i + 1 >= len(c)
        nxt = None if last else float(c.open[i + 1])
        ticks = self.ticks[key]
        return Bar(key[0], key[1], ms_to_dt(int(c.close_time[i])), float(c.open[i]),
                   float(c.high[i]), float(c.low[i]), float(c.close[i]), float(c.volume[i]),
                   nxt, int(ticks[i]), -1 if last else int(ticks[i + 1]))

    def steps(self, after_ms: int | None = None) -> Iterator[tuple[int, list[Bar]]]:
        heads: list[tuple[int, int, str, str, int]] = []
        order = {tf: k for k, tf in enumerate(self.timeframes)}
        for (sym, tf), c in self.candles.items():
            i0 = 0 if after_ms is None else int(np.searchsorted(c.close_time, after_ms,
                                                                "right"))
            if i0 < len(c):
                heapq.heappush(heads, (int(c.close_time[i0]), order[tf], sym, tf, i0))
        step: list[Bar] = []
        step_ts: int | None = None
        while heads:
            ts, _, sym, tf, i = heapq.heappop(heads)
            c = self.candles[(sym, tf)]
            if i + 1 < len(c):
                heapq.heappush(heads, (int(c.close_time[i + 1]), order[tf], sym, tf, i + 1))
            if step_ts is not None and ts != step_ts:
                yield step_ts, step
                step = []
            step_ts = ts
            step.append(self._bar((sym, tf), i))
        if step_ts is not None and step:
            yield step_ts, step

    async def run(self, after_ms: int | None = None) -> AsyncIterator[tuple[int, list[Bar]]]:
        """Async steps; the clock is set to each step's close time before it is yielded."""
        delay = 1.0 / self.speed if self.speed > 0 else 0.0
        for ts, bars in self.steps(after_ms):
            self.clock.set(ms_to_dt(ts))
            yield ts, bars
            await asyncio.sleep(delay)

    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        key = (symbol, timeframe)
        if key not in self.candles:
            return []
        c = self.candles[key]
        now_ms = int(self.clock.now().timestamp() * 1000)
        ct = c.close_time
        lo = 0 if since_ms is None else int(np.searchsorted(ct, since_ms, "right"))
        hi = int(np.searchsorted(ct, now_ms, "right"))
        return [self._bar(key, i) for i in range(lo, hi)]
