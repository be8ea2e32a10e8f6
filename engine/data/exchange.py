"""Market data from a real exchange through ccxt: the start-up check and candle polling.

`sentitrade run` in paper or live mode first checks that the exchange answers
(`check_exchange`: load its markets, retrying on a schedule, one clear line per failed
try and a final error that suggests ``mode = "replay"`` when offline), then warms every
strategy with the last `history_candles` closed candles (`CcxtFeed.history`) so it acts
only on candles that close after the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine.clock import ms_to_dt
from engine.data.candles import Bar, timeframe_ms
from engine.errors import SentitradeError
from engine.storage.config import Settings

log = logging.getLogger("sentitrade.exchange")


def rewrite_urls(exchange: Any, base: str) -> None:
    """Send every REST call of a ccxt exchange to `base` (path kept): a proxy, a
    self-hosted gateway, or the loopback fake of the tests."""
    base = base.rstrip("/")

    def rewrite(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: rewrite(x) for k, x in v.items()}
        if isinstance(v, str) and v.startswith(("https://", "http://")):
            rest = v.split("://", 1)[1]
            return base + (rest[rest.find("/"):] if "/" in rest else "")
        return v

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def rewrite_ws_urls(exchange: Any, base: str) -> None:
    """Send every websocket connection of a ccxt.pro exchange to `base` (ws:// or
    wss://, path kept): a self-hosted relay, or the loopback fake of the tests."""
    base = base.rstrip("/")

    def rewrite(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: rewrite(x) for k, x in v.items()}
        if isinstance(v, str) and v.startswith(("wss://", "ws://")):
            rest = v.split("://", 1)[1]
            return base + (rest[rest.find("/"):] if "/" in rest else "")
        return v

    ws = exchange.urls.get("api", {}).get("ws")
    if ws is not None:
        exchange.urls["api"]["ws"] = rewrite(ws)


def ccxt_client(settings: Settings, klass: Any, *, keys: bool,
                futures: bool | None = None) -> Any:
    """A ccxt client of `[exchange]`: the market list of the trading mode (spot, or the
    linear perpetuals with `defaultType` swap), the API keys only when `keys` (market data
    never needs them), sandbox and URL rewrites (`api_url`; `ws_url` for ccxt.pro)."""
    ex = settings.exchange
    # futures bots trade the linear perpetuals (BTC/USDT:USDT): their candles, books and
    # orders live on the swap markets, which a spot-only market list would not even name
    futures = ex.trading_mode == "futures" if futures is None else futures
    options: dict[str, Any] = {"fetchCurrencies": False, "fetchMargins": False,
                               "fetchMarkets": {"types": ["linear"] if futures else ["spot"]}}
    if futures:
        options["defaultType"] = "swap"
    config: dict[str, Any] = {"enableRateLimit": True, "options": options}
    if keys:
        for key, attr in (("apiKey", ex.api_key), ("secret", ex.secret),
                          ("password", ex.password)):
            if attr is not None:
                config[key] = attr.get_secret_value()
    client = klass(config)
    if ex.sandbox:
        client.set_sandbox_mode(True)
    if ex.api_url:
        rewrite_urls(client, ex.api_url)
    if ex.ws_url and "ws" in client.urls.get("api", {}):
        rewrite_ws_urls(client, ex.ws_url)
    return client


def public_exchange(settings: Settings, klass: Any = None) -> Any:
    """The ccxt async client for market data (no keys: it never trades); `klass` a
    ccxt.pro class for the websocket streams (`engine.data.live`)."""
    import ccxt.async_support as ccxt_async

    ex = settings.exchange
    klass = klass or getattr(ccxt_async, ex.id, None)
    if klass is None:
        raise SentitradeError(f"unknown exchange id {ex.id!r}: use a ccxt id such as "
                              "binance, kraken, okx")
    return ccxt_client(settings, klass, keys=False)


async def check_exchange(client: Any, settings: Settings,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> int:
    """Load the exchange's markets, retrying on `exchange.start_retries_s`; checks that
    every bot's symbols are listed. Returns the number of markets."""
    ex = settings.exchange
    waits = [*ex.start_retries_s, None]
    for n, wait in enumerate(waits, 1):
        try:
            markets = await client.load_markets()
            break
        except Exception as e:  # ccxt raises its own hierarchy; all mean "not now"
            why = f"{type(e).__name__}: {str(e)[:160]}"
            if wait is None:
                raise SentitradeError(
                    f"exchange {ex.id} does not answer after {n} tries ({why}); check the "
                    "network or exchange.api_url, or run offline with "
                    "exchange.mode = \"replay\"") from None
            log.warning("exchange %s does not answer (%s): try %d of %d again in %.0f s; "
                        "offline? set exchange.mode = \"replay\"", ex.id, why, n, len(waits),
                        wait)
            await sleep(wait)
    missing = sorted({s for b in settings.bots for s in b.symbols} - set(markets))
    if missing:
        raise SentitradeError(f"exchange {ex.id} does not list {', '.join(missing)}: fix "
                              "[[bots]] symbols")
    return len(markets)


class CcxtFeed:
    """OHLCV polling through a ccxt async exchange (its own rate limiter on); markets
    are loaded once. The still-forming last candle is dropped."""

    def __init__(self, exchange: Any, page: int = 500) -> None:
        self.exchange = exchange
        self.page = page
        self._markets_loaded = False

    async def _rows(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        if not self._markets_loaded:
            await self.exchange.load_markets()
            self._markets_loaded = True
        step = timeframe_ms(timeframe)
        rows = await self.exchange.fetch_ohlcv(symbol, timeframe, since=since_ms,
                                               limit=self.page)
        now_ms = int(self.exchange.milliseconds())
        out: list[Bar] = []
        for o_ms, o, h, lo, c, v in rows:
            close_ms = int(o_ms) + step
            if close_ms > now_ms:
                continue
            out.append(Bar(symbol, timeframe, ms_to_dt(close_ms), float(o), float(h), float(lo),
                           float(c), float(v or 0)))
        return out

    async def closed_bars(self, symbol: str, timeframe: str, since_ms: int | None) -> list[Bar]:
        """Closed candles whose close time is after `since_ms` (the last one seen)."""
        start = None if since_ms is None else since_ms - timeframe_ms(timeframe) + 1
        bars = await self._rows(symbol, timeframe, start)
        return [b for b in bars if since_ms is None or b.close_ms > since_ms]

    async def history(self, symbol: str, timeframe: str, n: int) -> list[Bar]:
        """The last `n` closed candles, oldest first (paged: exchanges cap a request)."""
        step = timeframe_ms(timeframe)
        now = int(self.exchange.milliseconds())
        since = now - (n + 1) * step
        out: list[Bar] = []
        while since < now:
            page = await self._rows(symbol, timeframe, since)
            page = [b for b in page if not out or b.close_ms > out[-1].close_ms]
            if not page:
                break
            out.extend(page)
            since = page[-1].close_ms
        return out[-n:] if n > 0 else out
