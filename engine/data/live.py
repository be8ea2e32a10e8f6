"""The market-data feed of a paper or live service, chosen by settings.

``[exchange] stream = true``: a `StreamFeed` (ccxt.pro websockets: candles closed as
they happen, trades and tickers for the live breakers, the order book), with REST
behind it for history and gap filling; otherwise the REST `CcxtFeed`. Both answer the
scheduler's `closed_bars` / `history`, so the service runs on either unchanged. When
streaming, the order book reaches the strategies (`self.dp`) and the paper broker
(`attach_book`), and a live service books its fills from the user-data streams
(`engine.execution.userstream`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from engine.data.exchange import CcxtFeed, public_exchange
from engine.data.rawstore import RawArchive
from engine.data.stream import Backoff, BookTop, StreamFeed
from engine.execution.paper import PaperBroker, Quote
from engine.execution.userstream import UserStream, user_exchange
from engine.storage.config import Settings
from engine.strategy.dataprovider import DataProvider


class WatchesFeeds(Protocol):
    """The engine's side (`engine.service.monitoring.RiskDesk.watch_feed`)."""

    def watch_feed(self, feed: Any) -> Any: ...


def streaming_exchange(settings: Settings) -> Any:
    """The ccxt.pro client of `[exchange]` (no keys: market data only)."""
    import ccxt.pro as ccxtpro

    from engine.errors import SentitradeError

    ex = settings.exchange
    klass = getattr(ccxtpro, ex.id, None)
    if klass is None:
        raise SentitradeError(f"exchange {ex.id!r} has no websocket streams in ccxt.pro: "
                              "set [exchange] stream = false")
    return public_exchange(settings, klass=klass)


def market_feed(settings: Settings, public: Any) -> CcxtFeed | StreamFeed:
    """The feed for `serve`: `public` is the client `public_exchange` built (a ccxt.pro
    one when streaming, see `streaming_exchange`)."""
    ex = settings.exchange
    if not ex.stream:
        return CcxtFeed(public)
    return StreamFeed(public, stale_seconds=ex.stale_seconds,
                      backoff=Backoff(cap_s=ex.reconnect_max_seconds))


def watch_bot_streams(feed: StreamFeed, settings: Settings) -> None:
    """Subscribe every bot's candles and its symbols' trades (the spike breaker's
    input) and order books (`book_depth` > 0: the strategies' `dp` and the paper
    broker's fills): the candles stream before the first tick asks for them."""
    depth = settings.exchange.book_depth
    for bot in settings.bots:
        for sym in bot.symbols:
            feed.watch_candles(sym, bot.timeframe)
            feed.watch_trades(sym)
            if depth:
                feed.watch_order_book(sym, depth)


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def book_quotes(candles: Callable[[str], Quote | None], books: Callable[[str], BookTop | None],
                now_ms: Callable[[], int], max_age_s: float) -> Callable[[str], Quote | None]:
    """The paper broker's price source with the streamed book in it: the candle's
    quote (last price, high and low for resting limits) plus the book's levels, so a
    market order walks the live book (`PaperBroker.create_order`). A book older than
    `max_age_s` is not shown (a stalled stream must not fill at old prices): the broker
    then falls back to the last price and its slippage."""

    def quote(symbol: str) -> Quote | None:
        q = candles(symbol)
        book = books(symbol)
        if book is None or now_ms() - book.ts_ms > max_age_s * 1000 or not (
                book.asks or book.bids):
            return q
        asks = tuple((_dec(p), _dec(a)) for p, a in book.asks)
        bids = tuple((_dec(p), _dec(a)) for p, a in book.bids)
        if q is None:
            best = [lv[0][0] for lv in (asks, bids) if lv]
            q = Quote(sum(best, Decimal(0)) / len(best))
        return Quote(q.last, q.high, q.low, asks, bids)

    return quote


def attach_book(engine: Any, feed: StreamFeed, max_age_s: float) -> None:
    """The streamed book for the engine's strategies (`dp`) and its paper broker."""
    provider = DataProvider(feed.top_of_book, feed.last_price, runmode="live")
    for loaded in getattr(getattr(engine, "strategies", None), "loaded", {}).values():
        loaded.strategy.dp = provider
    broker = getattr(engine, "broker", None)
    if isinstance(broker, PaperBroker):
        broker.quotes = book_quotes(broker.quotes, feed.top_of_book, feed.now_ms, max_age_s)


class ServiceFeed:
    """Everything `serve` needs of market data in paper/live mode, in three calls:

        feed = ServiceFeed(settings)          # the client and the feed of [exchange]
        ... check_exchange(feed.client, settings); engine = Engine(...)
        feed.attach(engine)                   # breakers listen, bot streams subscribed
        EngineScheduler(engine, feed.feed, ...)
        ... await feed.close()                # on shutdown
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stream = settings.exchange.stream
        self.client = streaming_exchange(settings) if self.stream else public_exchange(
            settings)
        self.feed = market_feed(settings, self.client)
        self.user: UserStream | None = None
        self.archive: RawArchive | None = None
        self._user_client: Any = None

    def attach(self, engine: WatchesFeeds) -> None:
        if isinstance(self.feed, StreamFeed):
            engine.watch_feed(self.feed)
            if self.settings.exchange.book_depth:
                attach_book(engine, self.feed, self.settings.exchange.stale_seconds)
            self._archive_raw(engine, self.feed)
            watch_bot_streams(self.feed, self.settings)
            self._watch_user(engine)

    def _archive_raw(self, engine: Any, feed: StreamFeed) -> None:
        """``[collector] raw_retention_hours > 0``: every streamed trade message into
        the raw_messages table, in batches, pruned by age (`engine.data.rawstore`)."""
        col = self.settings.collector
        sessions = getattr(engine, "sessions", None)
        if col.raw_retention_hours <= 0 or sessions is None or self.archive is not None:
            return
        self.archive = RawArchive(sessions.engine, col.raw_retention_hours,
                                  batch=col.raw_batch, flush_s=col.raw_flush_seconds)
        feed.listeners.append(self.archive)
        self.archive.start()

    def _watch_user(self, engine: Any) -> None:
        """Live mode: fills and balances over the user-data streams as they happen
        (`engine.execution.userstream`); REST polling stays the fallback."""
        execution = getattr(engine, "execution", None)
        if self.settings.exchange.mode != "live" or execution is None or self.user:
            return
        ex = self.settings.exchange
        self._user_client = user_exchange(self.settings)
        self.user = UserStream(self._user_client, execution, taker_fee=ex.taker_fee,
                               backoff=Backoff(cap_s=ex.reconnect_max_seconds),
                               on_error=execution.on_api_error)
        self.user.start()

    async def close(self) -> None:
        if self.archive is not None:
            await self.archive.close()
        if self.user is not None:
            await self.user.close()
            await self._user_client.close()
        if isinstance(self.feed, StreamFeed):
            await self.feed.close()
        await self.client.close()
