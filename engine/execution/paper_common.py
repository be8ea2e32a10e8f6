"""What the spot and the futures paper brokers share: the quote they fill against, the
simulated wallet's seeding and the market table of a replay.

Kept apart so the two brokers differ only in what really differs (spot moves base and
quote; futures holds margin and a position), not in two copies of the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from engine.clock import Clock
from engine.errors import ExchangeUnavailable
from engine.execution.broker import MarketInfo, balance_row
from engine.storage.db import SessionFactory

MONEY_STEP = Decimal("1e-18")


@dataclass(frozen=True, slots=True)
class Quote:
    """What the paper broker knows of a market right now."""

    last: Decimal
    high: Decimal | None = None  # of the current candle: limit orders cross on these
    low: Decimal | None = None
    asks: tuple[tuple[Decimal, Decimal], ...] = ()  # (price, amount), best first
    bids: tuple[tuple[Decimal, Decimal], ...] = ()


QuoteSource = Callable[[str], Quote | None]


def split_symbol(symbol: str) -> tuple[str, str]:
    """("BTC", "USDT") for BTC/USDT and for the perpetual BTC/USDT:USDT."""
    base, quote = symbol.split("/")
    return base, quote.split(":")[0]


class PaperVenue:
    """The simulated exchange's wallet seeding, market table and prices."""

    sessions: SessionFactory
    quotes: QuoteSource
    clock: Clock
    account: str
    markets: dict[str, MarketInfo]

    def fund(self, asset: str, amount: Decimal) -> None:
        """Seed the wallet once (no-op when the asset already has a row)."""
        with self.sessions.begin() as s:
            row = balance_row(s, self.account, asset)
            if row.free == 0 and row.locked == 0:
                row.free = amount
                row.updated_at = self.clock.now()

    def market(self, symbol: str) -> MarketInfo:
        """The market's rules; without a table from the exchange (a replay), none: the
        amount is the stake over the price to the database's 18 decimals and prices are
        taken as they come, as the backtester does without a market table."""
        if symbol not in self.markets:
            base, quote = split_symbol(symbol)
            self.markets[symbol] = MarketInfo(symbol, base, quote, amount_step=MONEY_STEP,
                                              price_step=MONEY_STEP)
        return self.markets[symbol]

    async def load_markets(self) -> dict[str, MarketInfo]:
        return dict(self.markets)

    def _quote(self, symbol: str) -> Quote:
        q = self.quotes(symbol)
        if q is None:
            # not sent, so safe to retry: reconciliation resubmits once a price is known
            raise ExchangeUnavailable(f"no price for {symbol} yet: the paper broker cannot fill")
        return q
