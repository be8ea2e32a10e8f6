"""The wallet as the engine sees it: equity at the last prices, what risk checks read,
open positions and balances. A mixin of `engine.service.engine.Engine`."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlmodel import Session, col, func, select

from engine.risk.checks import (
    RiskContext,
    active_breakers,
    trading_state,
)
from engine.state import EngineState
from engine.storage.models import (
    Balance,
    Trade,
)

log = logging.getLogger("sentitrade.engine")


class Wallet(EngineState):
    """Money and positions (reads only: every write goes through execution)."""

    def equity(self, s: Session | None = None) -> Decimal:
        """Quote value of the wallet at the last prices (cached view when no session)."""
        quote = self.settings.exchange.quote
        total = Decimal(0)
        if s is None:
            rows = self.view().balances
        else:
            rows = [(b.asset, b.free + b.locked) for b in s.exec(
                select(Balance).where(Balance.account == self.broker.account)).all()]
        for asset, amt in rows:
            if asset == quote:
                total += amt
            else:
                q = self.quotes.get(f"{asset}/{quote}")
                if q is not None:
                    total += amt * q.last
        return total

    def risk_context(self, s: Session, symbol: str) -> RiskContext:
        quote = self.settings.exchange.quote
        now = self.clock.now()
        exposure: dict[str, Decimal] = {}
        free_quote = Decimal(0)
        for b in s.exec(select(Balance).where(Balance.account == self.broker.account)).all():
            if b.asset == quote:
                free_quote = b.free
                continue
            q = self.quotes.get(f"{b.asset}/{quote}")
            if q is not None and b.free + b.locked > 0:
                exposure[b.asset] = (b.free + b.locked) * q.last
        day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
        open_n = s.exec(select(func.count()).select_from(Trade)
                        .where(col(Trade.is_open).is_(True))).one()
        today = s.exec(select(func.count()).select_from(Trade)
                       .where(col(Trade.open_at) >= day0)).one()
        active = active_breakers(s, now)
        paused_ex = any(e.action == "pause_exchange" for e in active)
        return RiskContext(self.equity(s), free_quote, exposure, int(open_n), int(today),
                           self.market(symbol), trading_state(active), paused_ex)

    def open_trades(self) -> list[Trade]:
        with self.sessions() as s:
            return list(s.exec(select(Trade).where(col(Trade.is_open).is_(True))
                               .order_by(col(Trade.id))).all())

    async def last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        return {s: self.quotes[s].last for s in symbols if s in self.quotes}


