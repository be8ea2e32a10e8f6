"""Market data over websockets (ccxt.pro), behind the same interface as the polling feed.

`StreamFeed` keeps one watch loop per stream (candles, trades, ticker, order book) on a
ccxt.pro client. Each loop reconnects on its own after a drop, waiting a backoff that
doubles up to a cap with random jitter (so a fleet does not reconnect in lock-step); a
candle or ticker stream silent for `stale_seconds` counts as dead (Binance pushes kline
updates every two seconds even without trades, so silence means a stalled connection,
not a quiet market): the listeners hear it and the connections are reset.

Closed candles go through a `CandleLedger` per (symbol, timeframe): each close time at
most once, in order, and a hole (after a reconnect, or a candle the stream never closed)
is filled over REST before anything later is handed on. `closed_bars` (the scheduler's
`MarketData` call) returns the ledger's candles and asks REST for any candle whose close
time has passed but that the stream has not delivered, so a silent stream delays nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from engine.clock import ms_to_dt
from engine.data.aggregate import CandleAlert, check_bar
from engine.data.candles import Bar, timeframe_ms
from engine.data.exchange import CcxtFeed

log = logging.getLogger("sentitrade.stream")


class Tick(NamedTuple):
    """One trade (or a ticker's last price, `trade_id` -1) as the engine sees it (a
    named tuple: built once per trade on the hot path, the cheapest immutable record)."""

    symbol: str
    ts_ms: int
    price: float
    amount: float
    trade_id: int = -1


@dataclass(frozen=True, slots=True)
class BookTop:
    symbol: str
    ts_ms: int
    bids: list[tuple[float, float]]  # best first
    asks: list[tuple[float, float]]
    nonce: int | None = None


class FeedListener(Protocol):
    """What the engine hears from a feed (the breakers, the collector)."""

    def on_tick(self, tick: Tick) -> None: ...

    def on_feed_error(self, stream: str, error: BaseException) -> None: ...

    def on_stale(self, stream: str, silent_s: float) -> None: ...

    def on_recovered(self, stream: str) -> None: ...


@dataclass
class Backoff:
    """Waits between reconnects: base * 2^n capped, times a jitter in [1 - j, 1 + j]."""

    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: float = 0.3
    rng: random.Random = field(default_factory=random.Random)

    def wait(self, attempt: int) -> float:
        raw = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        return raw * (1 + self.jitter * (2 * self.rng.random() - 1))


class SeenIds:
    """Recent trade ids of each symbol: a trade sent twice is handed on once, one that
    arrives out of order still is (its candle decides whether it counts). Ids are
    exchange sequence numbers, so the set is pruned by value, rarely: it keeps the ids
    within `keep` of the highest (one set look-up per trade on the hot path)."""

    def __init__(self, keep: int = 5000) -> None:
        self.keep = keep
        self._seen: dict[str, set[int]] = {}

    def first(self, symbol: str, trade_id: int) -> bool:
        ids = self._seen.get(symbol)
        if ids is None:
            ids = self._seen[symbol] = set()
        elif trade_id in ids:
            return False
        ids.add(trade_id)
        if len(ids) > 2 * self.keep:
            floor = max(ids) - self.keep
            self._seen[symbol] = {i for i in ids if i > floor}
        return True


class CandleLedger:
    """The closed candles of one (symbol, timeframe): each close time once, ascending."""

    def __init__(self, symbol: str, timeframe: str, keep: int = 2000) -> None:
        self.symbol, self.timeframe = symbol, timeframe
        self.step = timeframe_ms(timeframe)
        self.bars: deque[Bar] = deque(maxlen=keep)
        self.last_ms: int | None = None
        self.duplicates = 0

    def missing_after(self, close_ms: int) -> bool:
        """True when a candle closing at `close_ms` would leave a hole behind it."""
        return self.last_ms is not None and close_ms > self.last_ms + self.step

    def offer(self, bar: Bar) -> bool:
        if self.last_ms is not None and bar.close_ms <= self.last_ms:
            self.duplicates += 1
            return False
        self.bars.append(bar)
        self.last_ms = bar.close_ms
        return True

    def since(self, since_ms: int | None) -> list[Bar]:
        return [b for b in self.bars if since_ms is None or b.close_ms > since_ms]


def _row_bar(symbol: str, timeframe: str, step: int, row: list[Any]) -> Bar:
    o_ms, o, h, lo, c, v = row[:6]
    return Bar(symbol, timeframe, ms_to_dt(int(o_ms) + step), float(o), float(h), float(lo),
               float(c), float(v or 0.0))


class StreamFeed:
    """ccxt.pro streams with reconnect, stale detection and REST gap filling."""

    def __init__(self, exchange: Any, *, rest: CcxtFeed | None = None,
                 stale_seconds: float = 30.0, backoff: Backoff | None = None,
                 now_ms: Callable[[], int] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.exchange = exchange
        self.rest = rest or CcxtFeed(exchange)
        self.stale_seconds = stale_seconds
        self.backoff = backoff or Backoff()
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.sleep = sleep
        self.listeners: list[FeedListener] = []
        self.ledgers: dict[tuple[str, str], CandleLedger] = {}
        self.forming: dict[tuple[str, str], list[Any]] = {}
        self.books: dict[str, BookTop] = {}
        self.tickers: dict[str, Tick] = {}
        self.last_trade: dict[str, Tick] = {}
        self.reconnects = 0
        self.late_updates = 0
        self.alerts: deque[CandleAlert] = deque(maxlen=1000)
        self.seen = SeenIds()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._fill_lock = asyncio.Lock()
        self._closed = False

    # ------------------------------------------------------------ subscriptions
    def watch_candles(self, symbol: str, timeframe: str) -> None:
        key = (symbol, timeframe)
        self.ledgers.setdefault(key, CandleLedger(symbol, timeframe))
        self._start(f"ohlcv:{symbol}:{timeframe}",
                    lambda: self.exchange.watch_ohlcv(symbol, timeframe),
                    lambda rows: self._on_ohlcv(key, rows), stale=True,
                    recovered=lambda: self._after_reconnect(key))

    def watch_trades(self, symbol: str) -> None:
        self._start(f"trades:{symbol}", lambda: self.exchange.watch_trades(symbol),
                    self._on_trades, stale=False)

    def watch_ticker(self, symbol: str) -> None:
        self._start(f"ticker:{symbol}", lambda: self.exchange.watch_ticker(symbol),
                    self._on_ticker, stale=True)

    def watch_order_book(self, symbol: str, depth: int = 20) -> None:
        self._start(f"book:{symbol}", lambda: self.exchange.watch_order_book(symbol),
                    lambda ob: self._on_book(symbol, ob, depth), stale=False)

    def _start(self, name: str, watch: Callable[[], Awaitable[Any]],
               handle: Callable[[Any], Awaitable[None] | None], *, stale: bool,
               recovered: Callable[[], Awaitable[None]] | None = None) -> None:
        if name not in self._tasks and not self._closed:
            self._tasks[name] = asyncio.create_task(
                self._loop(name, watch, handle, stale, recovered), name=f"stream:{name}")

    async def _loop(self, name: str, watch: Callable[[], Awaitable[Any]],
                    handle: Callable[[Any], Awaitable[None] | None], stale: bool,
                    recovered: Callable[[], Awaitable[None]] | None) -> None:
        import ccxt

        failures = 0
        while not self._closed:
            try:
                if stale:
                    data = await asyncio.wait_for(watch(), self.stale_seconds)
                else:
                    data = await watch()
            except TimeoutError:
                failures += 1
                self._tell("on_stale", name, self.stale_seconds)
                log.warning("stream %s silent for %.0f s: reconnecting", name,
                            self.stale_seconds)
                await self._reset_connections()
                await self.sleep(self.backoff.wait(failures))
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed or (task is not None and task.cancelling()):
                    raise
                # not us being stopped: ccxt cancels the watches of a connection that
                # another stream's stale reset closed. Reconnect like after a drop
                # (the reset was counted once, by the stream that found it silent).
                failures += 1
                log.info("stream %s: its connection was reset, resubscribing", name)
                await self.sleep(self.backoff.wait(failures))
                continue
            except (ccxt.BaseError, OSError) as e:
                if self._closed:
                    return
                failures += 1
                self._tell("on_feed_error", name, e)
                wait = self.backoff.wait(failures)
                log.warning("stream %s failed (%s: %s): reconnect %d in %.1f s", name,
                            type(e).__name__, str(e)[:120], failures, wait)
                await self.sleep(wait)
                continue
            if failures:
                failures = 0
                self.reconnects += 1
                self._tell("on_recovered", name)
                if recovered is not None:
                    await recovered()
            try:
                out = handle(data)
                if out is not None:
                    await out
            except Exception as e:  # a malformed message must not kill the stream
                self._tell("on_feed_error", name, e)
                log.exception("stream %s: message not handled", name)

    def _tell(self, what: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, what)(*args)
            except Exception:
                log.exception("feed listener %s failed", what)

    async def _reset_connections(self) -> None:
        """Close every connection and forget it, so the next watch dials afresh (ccxt
        keeps a client it closed itself, and would wait on it forever)."""
        clients = getattr(self.exchange, "clients", {})
        for url, client in list(clients.items()):
            try:
                await client.close()
            except Exception:
                log.debug("closing a stalled connection failed", exc_info=True)
            if clients.get(url) is client:
                del clients[url]

    # ------------------------------------------------------------ handlers
    async def _on_ohlcv(self, key: tuple[str, str], rows: list[list[Any]]) -> None:
        step = timeframe_ms(key[1])
        for row in sorted(rows, key=lambda r: int(r[0])):
            t = int(row[0])
            cur = self.forming.get(key)
            if cur is not None and t < int(cur[0]):
                self.late_updates += 1  # an update for a candle already closed: ignored
                continue
            if cur is not None and t > int(cur[0]):
                # a later candle opened: the one we held is final (the exchange sends
                # its last update, x = true, before the next candle's first)
                await self._deliver(key, _row_bar(key[0], key[1], step, cur))
            self.forming[key] = list(row)

    async def _deliver(self, key: tuple[str, str], bar: Bar) -> None:
        ledger = self.ledgers[key]
        bad = check_bar(None, bar, ledger.step)
        if bad is not None:  # an impossible candle: REST decides it, the feed is suspect
            self.alerts.append(bad)
            self._tell("on_feed_error", f"ohlcv:{key[0]}:{key[1]}", ValueError(bad.detail))
            log.warning("streamed %s %s candle %s: %s; taking REST's", key[0], key[1],
                        bad.close_ms, bad.detail)
            await self._fill(key, bar.close_ms + 1)
            return
        if ledger.missing_after(bar.close_ms):
            await self._fill(key, bar.close_ms)
        if ledger.missing_after(bar.close_ms):
            self.alerts.append(CandleAlert(
                "gap", key[0], key[1], bar.close_ms,
                f"REST could not fill after {ledger.last_ms}: handed on with the hole"))
        ledger.offer(bar)

    async def _fill(self, key: tuple[str, str], until_ms: int | None = None) -> None:
        """The closed candles after the ledger's last, over REST (up to `until_ms`)."""
        ledger = self.ledgers[key]
        async with self._fill_lock:
            try:
                bars = await self.rest.closed_bars(key[0], key[1], ledger.last_ms)
            except Exception as e:
                self._tell("on_feed_error", f"rest:{key[0]}:{key[1]}", e)
                log.warning("gap fill of %s %s failed: %s", key[0], key[1], e)
                return
        for b in bars:
            if until_ms is None or b.close_ms < until_ms:
                ledger.offer(b)

    async def _after_reconnect(self, key: tuple[str, str]) -> None:
        # what was forming when the line dropped may have missed updates: REST decides
        self.forming.pop(key, None)
        await self._fill(key)

    def _on_trades(self, trades: list[dict[str, Any]]) -> None:
        raw = [fn for x in self.listeners if (fn := getattr(x, "on_raw", None)) is not None]
        for t in trades:
            tid = int(t.get("id") or -1)
            if tid >= 0 and not self.seen.first(t["symbol"], tid):
                continue
            for fn in raw:
                fn("ccxt", t.get("info"))
            tick = Tick(t["symbol"], int(t["timestamp"]), float(t["price"]),
                        float(t.get("amount") or 0.0), tid)
            self._tell("on_tick", tick)
            self.last_trade[tick.symbol] = tick

    def _on_ticker(self, tk: dict[str, Any]) -> None:
        if tk.get("last") is None:
            return
        tick = Tick(tk["symbol"], int(tk.get("timestamp") or self.now_ms()), float(tk["last"]),
                    0.0)
        self.tickers[tick.symbol] = tick
        self._tell("on_tick", tick)

    def _on_book(self, symbol: str, ob: Any, depth: int) -> None:
        self.books[symbol] = BookTop(
            symbol, int(ob.get("timestamp") or self.now_ms()),
            [(float(p), float(q)) for p, q, *_ in ob["bids"][:depth]],
            [(float(p), float(q)) for p, q, *_ in ob["asks"][:depth]], ob.get("nonce"))

    # ------------------------------------------------------------ MarketData
    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        """Closed candles after `since_ms`: the stream's, and REST's for any candle whose
        close has passed but that the stream has not delivered."""
        key = (symbol, timeframe)
        ledger = self.ledgers.setdefault(key, CandleLedger(symbol, timeframe))
        if ledger.last_ms is None and since_ms is not None:
            ledger.last_ms = since_ms
        self.watch_candles(symbol, timeframe)
        step = timeframe_ms(timeframe)
        due = self.now_ms() // step * step
        if ledger.last_ms is None or ledger.last_ms < due:
            await self._fill(key)
        return ledger.since(since_ms)

    async def history(self, symbol: str, timeframe: str, n: int) -> list[Bar]:
        bars = await self.rest.history(symbol, timeframe, n)
        if bars:
            ledger = self.ledgers.setdefault((symbol, timeframe),
                                             CandleLedger(symbol, timeframe))
            if ledger.last_ms is None:
                ledger.last_ms = bars[-1].close_ms
        return bars

    def top_of_book(self, symbol: str) -> BookTop | None:
        return self.books.get(symbol)

    def last_price(self, symbol: str) -> Tick | None:
        """The latest of the streamed ticker and the last streamed trade."""
        a, b = self.tickers.get(symbol), self.last_trade.get(symbol)
        if a is None or b is None:
            return a or b
        return a if a.ts_ms >= b.ts_ms else b

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
