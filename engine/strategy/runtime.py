"""The live side of the one strategy interface: ask the strategy, on each closed candle,
exactly what the backtester asks it on the same candle.

Design: each (bot, pair) keeps its closed candles in memory (growing NumPy columns,
amortised O(1) append) together with the point-in-time sentiment columns computed when
the candle closed (`sentiment.pointintime.columns_at`, the backtester's function). On a
close, the strategy's vectorised ``populate_*`` run over a trailing window of the
history (read-only views, no copies) and the last row's signals are read with the
backtester's own `extract_signals`.

Why a trailing window is exact: a causal strategy's value on row t depends only on rows
<= t, and the indicators' dependence on the window's first rows decays geometrically
(EMA, Wilder's RSI/ATR...). With the default 1,000 candles EMA(26) and RSI(14) are
bit-identical to the full-history values on every sampled candle of a year of BTC 5m
(at 500 candles RSI still differs in the last bits 137 times of 530). Strategies with
longer memory raise ``startup_candle_count``: the window is at least 5x that. Indicators
with unbounded memory (cumulative OBV/AD/VWAP without sessions) cannot match a backtest
that started earlier by nature; `history_candles = 0` keeps everything (exact for any
causal strategy, at a cost growing with the run).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.strategy.interface import (
    Frame,
    Strategy,
    StrategyError,
    analyze,
    exit_tag_at,
    extract_last,
)
from sentiment.pointintime import SENTIMENT_COLUMNS

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
BASE_COLUMNS = ("date", "open", "high", "low", "close", "volume", "close_time")
_ALL = (*BASE_COLUMNS, *SENTIMENT_COLUMNS)
_SKIP_INPUTS = {*_ALL, "enter_long", "exit_long", "enter_short", "exit_short",
                "stake_scale", "enter_limit", "enter_tag", "exit_tag"}


@dataclass(frozen=True, slots=True)
class RowSignal:
    """The strategy's verdict on the last closed candle, as the backtester reads it."""

    enter_long: bool
    exit_long: bool
    enter_short: bool
    exit_short: bool
    stake_scale: float
    enter_limit: float
    exit_tag: str
    enter_tag: str | None
    inputs: dict[str, float]


_INDEX = {c: i for i, c in enumerate(_ALL)}
_DEFAULTS = tuple(np.nan if c == "sentiment" else 0.0 for c in _ALL)


class SeriesBuffer:
    """One pair's closed candles and sentiment columns on one timeframe: one
    (columns x capacity) array, so a window is one slice and a row one assignment."""

    def __init__(self, capacity: int = 256, keep: int = 0) -> None:
        self._cap = max(16, capacity)
        self.n = 0
        self.keep = keep  # 0 = keep everything
        self._data = np.empty((len(_ALL), self._cap))
        self.tick = np.empty(self._cap, dtype=np.int64)

    def last_close_ms(self) -> int | None:
        return int(self._data[_INDEX["close_time"], self.n - 1]) if self.n else None

    def append(self, row: dict[str, float], tick: int) -> None:
        if self.n == self._cap:
            self._grow()
        i = self.n
        self._data[:, i] = [row.get(c, d) for c, d in zip(_ALL, _DEFAULTS, strict=True)]
        self.tick[i] = tick
        self.n += 1

    def _grow(self) -> None:
        if self.keep and self.n > 2 * self.keep:
            # drop the oldest rows beyond what any window needs (memory stays bounded)
            drop = self.n - self.keep
            self._data[:, : self.n - drop] = self._data[:, drop:self.n]
            self.tick[: self.n - drop] = self.tick[drop:self.n]
            self.n -= drop
            return
        self._cap *= 2
        d = np.empty((len(_ALL), self._cap))
        d[:, : self.n] = self._data[:, : self.n]
        self._data = d
        t = np.empty(self._cap, dtype=np.int64)
        t[: self.n] = self.tick[: self.n]
        self.tick = t

    def column(self, name: str) -> F64:
        return self._data[_INDEX[name]]

    def frame(self, window: int) -> Frame:
        """The last `window` rows (all when 0) as read-only views (a strategy that writes
        into an input column fails loudly instead of corrupting the history)."""
        lo = 0 if window <= 0 else max(0, self.n - window)
        block = self._data[:, lo:self.n]
        block.flags.writeable = False
        return Frame(dict(zip(_ALL, block, strict=True)), n=self.n - lo)


@dataclass(slots=True)
class RuntimeStats:
    evaluations: int = 0
    seconds: float = 0.0


def live_order_gaps(strategy: Strategy) -> list[str]:
    """What of the strategy's order settings the live engine does differently from its
    backtest: said once at start-up, so a bot never silently trades differently.

    Limit entries and exits, custom prices, `unfilledtimeout` and `adjust_trade_position`
    run live through `engine.service.orderflow` with the backtester's rules; what is
    left cannot match by nature (the live engine learns of a fill at the candle's
    close, the backtester knows it at the open)."""
    out = []
    ot = strategy.order_types
    limit_entry = ot.get("entry", "market") == "limit"
    if limit_entry and strategy.position_adjustment_enable:
        out.append("a limit entry that fills inside a candle is offered to "
                   "adjust_trade_position from the next open (the backtester asks at the "
                   "open of the candle it fills in)")
    if strategy.order_type == "limit" and not strategy.uses_orders():
        out.append("order_type 'limit' (the enter_limit column) is backtested as a limit; "
                   "live sends a market order (use order_types and custom_entry_price)")
    if strategy.can_short and strategy.uses_orders():
        out.append("short entries are not traded by the live order path (spot only)")
    return out


class StrategyRuntime:
    """One bot's strategy over its pairs on its timeframe."""

    def __init__(self, strategy: Strategy, timeframe: str, *, history_candles: int = 1000) -> None:
        self.strategy = strategy
        self.timeframe = timeframe
        need = 5 * int(strategy.startup_candle_count or 0)
        self.window = 0 if history_candles <= 0 else max(int(history_candles), need)
        self.buffers: dict[str, SeriesBuffer] = {}
        self._last_frame: dict[str, Frame] = {}  # symbol -> last analysed window
        self.stats = RuntimeStats()
        self.order_gaps = live_order_gaps(strategy)
        if self.order_gaps:
            log.warning("strategy %s: %s", strategy.name, "; ".join(self.order_gaps))

    def buffer(self, symbol: str) -> SeriesBuffer:
        b = self.buffers.get(symbol)
        if b is None:
            b = SeriesBuffer(capacity=min(max(self.window, 256), 4096), keep=self.window)
            self.buffers[symbol] = b
        return b

    def push(self, symbol: str, row: dict[str, float], tick: int = -1) -> bool:
        """Append a closed candle (``date`` = open ms, ``close_time`` = close ms, OHLCV
        and the sentiment columns). Returns False for a candle already seen (a feed
        that repeats itself never makes a second decision)."""
        b = self.buffer(symbol)
        last = b.last_close_ms()
        if last is not None and int(row["close_time"]) <= last:
            return False
        b.append(row, tick)
        return True

    def last_inputs(self, symbol: str) -> dict[str, float]:
        """The last evaluated row's numeric columns (indicators, sentiment)."""
        frame = self._last_frame.get(symbol)
        if frame is None:
            return {}
        last = frame.n - 1
        inputs: dict[str, float] = {}
        for k, v in frame.items():
            if k in _SKIP_INPUTS or not isinstance(v, np.ndarray) or v.shape != (frame.n,):
                continue
            if v.dtype.kind in "fiu":
                x = float(v[last])
                if x == x:
                    inputs[k] = round(x, 8)
        b = self.buffer(symbol)
        for k in ("sentiment", "sentiment_confidence", "news_count", "news_impact"):
            x = float(b.column(k)[b.n - 1])
            if x == x and (k == "sentiment" or x):
                inputs[k] = round(x, 6)
        return inputs

    def last_frame(self, symbol: str) -> Frame | None:
        """The window the strategy was last evaluated on, with its columns (/chart)."""
        return self._last_frame.get(symbol)

    def evaluate(self, symbol: str, pair: str | None = None) -> RowSignal:
        """Run the strategy on the trailing window; the last row's signals."""
        t0 = time.perf_counter()
        b = self.buffer(symbol)
        if b.n == 0:
            raise StrategyError(f"{self.strategy.name}: no candles of {symbol} yet")
        frame = analyze(self.strategy, b.frame(self.window),
                        {"pair": pair or symbol, "timeframe": self.timeframe})
        el, xl, es, xs, scale, limit = extract_last(self.strategy, frame)
        last = frame.n - 1
        etag = frame.get("enter_tag")
        enter_tag = None
        if isinstance(etag, str):
            enter_tag = etag
        elif etag is not None:
            try:
                enter_tag = str(etag[last])
            except (IndexError, TypeError, KeyError):
                enter_tag = None
        self._last_frame[symbol] = frame
        # the inputs (the row's numbers, for the signal record and the proposal's "why")
        # are read only when there is something to record
        inputs = self.last_inputs(symbol) if (el or xl or es or xs) else {}
        out = RowSignal(el, xl, es, xs, scale, limit,
                        exit_tag_at(frame.get("exit_tag"), last), enter_tag, inputs)
        self.stats.evaluations += 1
        self.stats.seconds += time.perf_counter() - t0
        return out
