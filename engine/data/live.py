"""The market-data feed of a paper or live service, chosen by settings.

``[exchange] stream = true``: a `StreamFeed` (ccxt.pro websockets: candles closed as
they happen, trades and tickers for the live breakers, the order book), with REST
behind it for history and gap filling; otherwise the REST `CcxtFeed`. Both answer the
scheduler's `closed_bars` / `history`, so the service runs on either unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.data.exchange import CcxtFeed, public_exchange, rewrite_ws_urls
from engine.data.stream import Backoff, StreamFeed
from engine.storage.config import Settings


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
    client = public_exchange(settings, klass=klass)
    if ex.ws_url:
        rewrite_ws_urls(client, ex.ws_url)
    return client


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
    input): the candles stream before the first tick asks for them."""
    for bot in settings.bots:
        for sym in bot.symbols:
            feed.watch_candles(sym, bot.timeframe)
            feed.watch_trades(sym)


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

    def attach(self, engine: WatchesFeeds) -> None:
        if isinstance(self.feed, StreamFeed):
            engine.watch_feed(self.feed)
            watch_bot_streams(self.feed, self.settings)

    async def close(self) -> None:
        if isinstance(self.feed, StreamFeed):
            await self.feed.close()
        await self.client.close()
