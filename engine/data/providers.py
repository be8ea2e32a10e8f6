"""Collector providers: factories for `DataCollector.register_provider`.

`tape(url)`: Binance's trade streams over a dedicated websocket (`engine.data.tape`);
`ccxt_trades(feed)`: the trades of a `StreamFeed` (ccxt.pro, any exchange it streams).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.data.collector import DataCollector, ProviderFactory
from engine.data.stream import StreamFeed, Tick
from engine.data.tape import BINANCE_WS, BinanceTape


class CcxtTrades:
    """The trade streams of a `StreamFeed`, handed to a collector."""

    name = "ccxt"

    def __init__(self, collector: DataCollector, feed: StreamFeed) -> None:
        self.collector, self.feed = collector, feed

    def on_tick(self, tick: Tick) -> None:
        if tick.trade_id >= 0:  # trades only: a ticker's last price is no trade
            self.collector.on_tick(tick)

    def on_raw(self, provider: str, payload: Any) -> None:
        self.collector.on_raw(provider, payload)

    def on_feed_error(self, stream: str, error: BaseException) -> None:
        return None

    def on_stale(self, stream: str, silent_s: float) -> None:
        return None

    def on_recovered(self, stream: str) -> None:
        return None

    async def start(self, symbols: Sequence[str]) -> None:
        if self not in self.feed.listeners:
            self.feed.listeners.append(self)
        for s in symbols:
            self.feed.watch_trades(s)

    async def stop(self) -> None:
        if self in self.feed.listeners:
            self.feed.listeners.remove(self)


def tape(url: str = BINANCE_WS, **kw: Any) -> ProviderFactory:
    return lambda c: BinanceTape(c, url, **kw)


def ccxt_trades(feed: StreamFeed) -> ProviderFactory:
    return lambda c: CcxtTrades(c, feed)
