"""What a strategy may read of the market beyond its candles: `self.dp` (Freqtrade's
DataProvider habit).

    book = self.dp.orderbook("BTC/USDT", 5)     # {"bids": [[price, amount], ...],
    if book and book["asks"][0][0] ...           #  "asks": [...], "timestamp": ms}
    tk = self.dp.ticker("BTC/USDT")              # {"last", "bid", "ask", "timestamp"}

Only a paper or live service streaming from the exchange (``[exchange] stream = true``)
has a book and a ticker to show; in a backtest, hyperopt or replay there is no
point-in-time book, so both answer None (`runmode` says which) and a strategy must
treat None as "unknown", never as an empty market. Reads are answered from the stream's
last message: no call ever waits on the network from inside a strategy hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: a backtest never loads the websocket layer
    from engine.data.stream import BookTop, Tick

BookSource = Callable[[str], "BookTop | None"]
TickerSource = Callable[[str], "Tick | None"]


class DataProvider:
    """Top of book and depth of the streamed order book, the streamed ticker."""

    def __init__(self, books: BookSource | None = None, tickers: TickerSource | None = None,
                 *, runmode: str = "backtest") -> None:
        self._books = books
        self._tickers = tickers
        self.runmode = runmode

    @property
    def available(self) -> bool:
        """True when market data beyond candles is streamed (a paper or live service)."""
        return self._books is not None

    def orderbook(self, pair: str, maximum: int = 20) -> dict[str, Any] | None:
        """The `maximum` best levels of each side, best first, as ccxt shapes them;
        None without a streamed book (backtests, or before the first snapshot)."""
        if maximum <= 0:
            raise ValueError("maximum must be a positive number of levels")
        book = self._books(pair) if self._books is not None else None
        if book is None:
            return None
        return {"symbol": pair, "timestamp": book.ts_ms, "nonce": book.nonce,
                "bids": [[p, q] for p, q in book.bids[:maximum]],
                "asks": [[p, q] for p, q in book.asks[:maximum]]}

    def ticker(self, pair: str) -> dict[str, Any] | None:
        """Last price with the best bid and ask; None when nothing is streamed."""
        book = self._books(pair) if self._books is not None else None
        tick = self._tickers(pair) if self._tickers is not None else None
        if book is None and tick is None:
            return None
        bid = book.bids[0][0] if book is not None and book.bids else None
        ask = book.asks[0][0] if book is not None and book.asks else None
        last = tick.price if tick is not None else (
            (bid + ask) / 2 if bid is not None and ask is not None else None)
        ts = max(tick.ts_ms if tick is not None else 0, book.ts_ms if book is not None else 0)
        return {"symbol": pair, "last": last, "bid": bid, "ask": ask, "timestamp": ts}


OFFLINE = DataProvider()
