"""The data collector: providers registered by name feed trades in; candles come out.

A provider (a websocket trade tape, ccxt.pro's trade stream, a test script) is a
factory registered under a name (`register_provider`); `start_collection(symbols)`
starts every registered provider on those symbols. Each provider hands over raw
messages (`on_raw`) and trades (`on_tick`); the collector keeps them apart:

* raw messages in a `RawStore`, kept `raw_retention_s` seconds for audit (what the
  exchange actually said, when a candle is disputed), then dropped; with an `archive`
  (`engine.data.rawstore.RawArchive`) also in the database, in batches, for its own
  retention;
* trades aggregated into right-aligned candles on every configured timeframe
  (`engine.data.aggregate`), closed by trades or by the clock (`flush`, run every
  `flush_interval_s` by `start_collection`), each closed candle validated against the
  previous one (gap, duplicate, OHLC sanity) before it is stored and handed on; a
  failed check is an alert, and a candle that fails OHLC sanity or repeats a close time
  is not handed on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from engine.data.aggregate import CandleAlert, CandleBuilder, check_bar
from engine.data.candles import Bar, timeframe_ms
from engine.data.stream import Tick

log = logging.getLogger("sentitrade.collector")

DEFAULT_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


class Provider(Protocol):
    name: str

    async def start(self, symbols: Sequence[str]) -> None: ...

    async def stop(self) -> None: ...


ProviderFactory = Callable[["DataCollector"], Provider]
_PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make a provider available to every collector under `name` (a later registration
    of the same name replaces it: tests and plugins swap one in)."""
    _PROVIDERS[name] = factory


def providers() -> dict[str, ProviderFactory]:
    return dict(_PROVIDERS)


class RawStore:
    """Raw provider messages with their arrival time, dropped after `retention_s`."""

    def __init__(self, retention_s: float) -> None:
        self.retention_ms = int(retention_s * 1000)
        self.items: deque[tuple[int, str, Any]] = deque()

    def add(self, now_ms: int, provider: str, payload: Any) -> None:
        self.items.append((now_ms, provider, payload))

    def trim(self, now_ms: int) -> int:
        horizon, n = now_ms - self.retention_ms, 0
        while self.items and self.items[0][0] < horizon:
            self.items.popleft()
            n += 1
        return n

    def __len__(self) -> int:
        return len(self.items)


def _call(fn: Callable[[Any], None], arg: Any) -> None:
    """A listener's failure is logged, never raised into the provider's read loop
    (which would stop the tape for everyone)."""
    try:
        fn(arg)
    except Exception:
        log.exception("collector listener %r failed", fn)


class DataCollector:
    """Trades in from named providers; raw messages and validated candles out."""

    def __init__(self, timeframes: Sequence[str] = DEFAULT_TIMEFRAMES, *,
                 raw_retention_s: float = 3600.0, keep_candles: int = 1000,
                 flush_interval_s: float = 1.0,
                 now_ms: Callable[[], int] | None = None, archive: Any = None) -> None:
        self.timeframes = sorted(set(timeframes), key=timeframe_ms)
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.raw = RawStore(raw_retention_s)
        self.archive = archive  # a RawArchive (`add(now_ms, provider, payload)`) or None
        self.keep_candles = keep_candles
        self.flush_interval_s = flush_interval_s
        self.builders: dict[str, list[CandleBuilder]] = {}
        self.candles: dict[tuple[str, str], deque[Bar]] = {}
        self.last_close: dict[tuple[str, str], int] = {}
        self.alerts: deque[CandleAlert] = deque(maxlen=1000)
        self.candle_listeners: list[Callable[[Bar], None]] = []
        self.alert_listeners: list[Callable[[CandleAlert], None]] = []
        self.tick_listeners: list[Callable[[Tick], None]] = []
        self.factories: dict[str, ProviderFactory] = providers()
        self.running: dict[str, Provider] = {}
        self.ticks = 0
        self._out: list[Bar] = []
        self._flusher: asyncio.Task[None] | None = None

    def register_provider(self, name: str, factory: ProviderFactory) -> None:
        """A provider for this collector only (beside the globally registered ones)."""
        self.factories[name] = factory

    def add_symbols(self, symbols: Sequence[str]) -> None:
        """Aggregate these symbols' trades (start_collection does it for its symbols)."""
        for sym in symbols:
            self.builders.setdefault(sym, [CandleBuilder(sym, tf) for tf in self.timeframes])

    async def start_collection(self, symbols: Sequence[str],
                               names: Sequence[str] | None = None) -> None:
        """Start the providers named (default: every registered one) on `symbols`, and
        the clock that closes candles without trades."""
        self.add_symbols(symbols)
        for name in list(self.factories) if names is None else names:
            if name not in self.factories:
                raise KeyError(f"no provider named {name!r}: register_provider it first")
            if name in self.running:
                continue
            p = self.factories[name](self)
            await p.start(list(symbols))
            self.running[name] = p
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop(), name="collector:flush")
        if self.archive is not None:
            self.archive.start()

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        for p in self.running.values():
            await p.stop()
        self.running.clear()
        if self.archive is not None:
            await self.archive.close()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                self.flush(self.now_ms())
            except Exception:
                log.exception("closing candles by time failed")

    # ------------------------------------------------------------ the hot path
    def on_raw(self, provider: str, payload: Any) -> None:
        now = self.now_ms()
        if self.raw.retention_ms > 0:  # 0: not kept in memory (an archive may keep it)
            self.raw.add(now, provider, payload)
        if self.archive is not None:
            self.archive.add(now, provider, payload)

    def on_tick(self, tick: Tick) -> None:
        self.ticks += 1
        builders = self.builders.get(tick.symbol)
        if builders is None:
            return
        out = self._out
        for b in builders:
            b.add(tick.ts_ms, tick.price, tick.amount, out)
        for fn in self.tick_listeners:
            _call(fn, tick)
        if out:
            self._hand_on(out)

    def flush(self, now_ms: int) -> int:
        """Close by the clock every candle whose close time has passed; trim raw."""
        out = self._out
        for builders in self.builders.values():
            for b in builders:
                b.close_until(now_ms, out)
        n = len(out)
        if out:
            self._hand_on(out)
        self.raw.trim(now_ms)
        return n

    def _hand_on(self, out: list[Bar]) -> None:
        bars = out[:]
        out.clear()
        for bar in bars:
            key = (bar.symbol, bar.timeframe)
            alert = check_bar(self.last_close.get(key), bar, timeframe_ms(bar.timeframe))
            if alert is not None:
                self.alerts.append(alert)
                log.warning("candle check %s: %s %s %s", alert.kind, alert.symbol,
                            alert.timeframe, alert.detail)
                for fn in self.alert_listeners:
                    _call(fn, alert)
                if alert.kind != "gap":
                    continue
            self.last_close[key] = bar.close_ms
            store = self.candles.get(key)
            if store is None:
                store = self.candles[key] = deque(maxlen=self.keep_candles)
            store.append(bar)
            for cb in self.candle_listeners:
                _call(cb, bar)
