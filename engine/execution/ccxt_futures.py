"""Live futures on ccxt: Binance USDⓈ-M perpetuals (``defaultType`` swap), isolated
margin first.

`CcxtFuturesBroker` wraps the spot `CcxtBroker` (orders, client ids, error mapping,
retries are the same REST semantics on ``/fapi``) and adds what a futures account needs:

- markets: the linear swaps (``BTC/USDT:USDT``) with their precision and limits;
- `setup_symbol`: ``set_margin_mode("isolated")`` (an account already isolated answers
  -4046, which counts as done) then ``set_leverage``, before an entry order;
- `leverage_tiers`: the symbol's brackets (``/fapi/v1/leverageBracket``), the inputs of
  the liquidation formula (`engine.margin`);
- `apply_to_trade`: the execution engine's booking hook, so a sell with no position
  opens a SHORT and a buy closes it (`engine.execution.futures_positions`); balances are
  the exchange's, so no wallet moves here;
- `position` / `mark`: the exchange's view (``positionRisk``: liquidation price, size;
  ``premiumIndex``: mark price and funding rate) for reconciliation and the
  liquidation-distance alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
from sqlmodel import Session

from engine.clock import Clock
from engine.execution.broker import MarketInfo
from engine.execution.ccxt_broker import CcxtBroker, map_error
from engine.execution.futures_positions import apply_fill
from engine.margin.tiers import BINANCE_BTCUSDT, Tier, tiers_from_ccxt
from engine.storage.config import Settings
from engine.storage.models import Order

R = TypeVar("R")


def _dec(v: Any, default: str = "0") -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal(default)


def futures_exchange(settings: Settings) -> Any:
    """A ccxt exchange configured for USDⓈ-M perpetuals (keys, sandbox, URL rewrite)."""
    from engine.data.exchange import ccxt_client

    return ccxt_client(settings, getattr(ccxt_async, settings.exchange.id), keys=True,
                       futures=True)


class CcxtFuturesBroker:
    trading_mode = "futures"

    def __init__(self, exchange: Any, *, clock: Clock | None = None,
                 taker_fee: Decimal = Decimal("0.0005"), margin_mode: str = "isolated",
                 account: str = "live-futures", **kw: Any) -> None:
        self.inner = CcxtBroker(exchange, account=account, clock=clock, taker_fee=taker_fee,
                                **kw)
        self.exchange = exchange
        self.margin_mode = margin_mode
        self._leverage: dict[str, Decimal] = {}
        self._tiers: dict[str, tuple[Tier, ...]] = {}
        self._markets: dict[str, MarketInfo] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> CcxtFuturesBroker:
        return cls(futures_exchange(settings), taker_fee=settings.exchange.taker_fee,
                   margin_mode=settings.exchange.margin_mode, **kw)

    async def _call(self, fn: Callable[[], Awaitable[R]]) -> R:
        """One ccxt call; its error mapped to ours (callers decide about retries)."""
        try:
            return await fn()
        except ccxt.BaseError as e:
            raise map_error(e) from None

    def __getattr__(self, name: str) -> Any:
        # orders, cancels, balances, open-order ids, name/account: the spot broker's
        return getattr(self.inner, name)

    async def load_markets(self) -> dict[str, MarketInfo]:
        if self._markets is None:
            raw = await self._call(lambda: self.exchange.load_markets())
            out: dict[str, MarketInfo] = {}
            for sym, m in raw.items():
                if not (m.get("swap") and m.get("linear")):
                    continue
                lim, prec = m.get("limits", {}), m.get("precision", {})
                out[sym] = MarketInfo(
                    sym, m["base"], m["quote"],
                    min_amount=_dec((lim.get("amount") or {}).get("min")),
                    min_cost=_dec((lim.get("cost") or {}).get("min")),
                    amount_step=_dec(prec.get("amount"), "0.001"),
                    price_step=_dec(prec.get("price"), "0.01"))
            self._markets = out
        return dict(self._markets)

    async def setup_symbol(self, symbol: str, leverage: Decimal, margin_mode: str) -> None:
        """Margin mode, then leverage, on the exchange account for `symbol`."""
        await self.load_markets()
        ex = self.exchange

        async def margin() -> Any:
            try:
                return await ex.set_margin_mode(margin_mode, symbol)
            except ccxt.MarginModeAlreadySet:  # -4046 "No need to change margin type."
                return None

        await self._call(margin)
        lev = int(leverage)
        if Decimal(lev) != leverage:
            raise ValueError(f"leverage {leverage}: Binance takes whole numbers")
        await self._call(lambda: ex.set_leverage(lev, symbol))
        self._leverage[symbol] = Decimal(lev)
        self.margin_mode = margin_mode

    async def leverage_tiers(self, symbol: str) -> tuple[Tier, ...]:
        if symbol not in self._tiers:
            raw = await self._call(lambda: self.exchange.fetch_leverage_tiers([symbol]))
            self._tiers[symbol] = tiers_from_ccxt(raw[symbol])
        return self._tiers[symbol]

    async def position(self, symbol: str) -> dict[str, Any] | None:
        """The exchange's open position on `symbol` (ccxt's unified structure)."""
        rows = await self._call(lambda: self.exchange.fetch_positions([symbol]))
        for p in rows:
            if p.get("symbol") == symbol and float(p.get("contracts") or 0) != 0:
                return dict(p)
        return None

    async def mark(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(mark price, current funding rate) from the premium index."""
        fr = await self._call(lambda: self.exchange.fetch_funding_rate(symbol))
        return _dec(fr.get("markPrice")), _dec(fr.get("fundingRate"))

    def apply_to_trade(self, s: Session, o: Order, amount: Decimal, price: Decimal,
                       fee: Decimal, now: datetime) -> Decimal | None:
        tiers: Sequence[Tier] = self._tiers.get(o.symbol, BINANCE_BTCUSDT)
        eff = apply_fill(s, o, amount, price, fee, now,
                         leverage=self._leverage.get(o.symbol, Decimal(1)),
                         margin_mode=self.margin_mode, tiers=tiers)
        return eff.realized
