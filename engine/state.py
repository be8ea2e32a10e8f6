"""What the Engine's parts share: the state and the calls one part makes of another.

`Engine` is assembled from parts a newcomer can read alone (`engine.service.desk`
for proposals and approvals, `engine.service.monitoring` for breakers,
`engine.portfolio.wallet` for money); this base only names, for the type checker, what
they use of each other. It holds no logic.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.clock import Clock
    from engine.data.newsbook import NewsBook
    from engine.execution.broker import Broker, MarketInfo
    from engine.execution.engine import ExecutionEngine
    from engine.execution.paper import Quote
    from engine.outbox import OutboxDispatcher
    from engine.risk.checks import BreakerMonitor, RiskContext
    from engine.service.api import Decision
    from engine.service.bots import BotManager
    from engine.service.trading import StrategyLoop
    from engine.storage.config import Settings
    from engine.storage.db import SessionFactory
    from engine.storage.models import Proposal, Trade


class EngineState:
    """Attributes set by `Engine.__init__`; method signatures of the other parts."""

    settings: Settings
    sessions: SessionFactory
    clock: Clock
    quotes: dict[str, Quote]
    broker: Broker
    monitor: BreakerMonitor
    execution: ExecutionEngine
    bots: BotManager
    news: NewsBook
    strategies: StrategyLoop
    outbox: OutboxDispatcher
    markets: dict[str, MarketInfo]
    stats: Any
    _lock: asyncio.Lock
    _last_snapshot: datetime | None

    if TYPE_CHECKING:
        def view(self) -> Any: ...
        def market(self, symbol: str) -> MarketInfo | None: ...
        def equity(self, s: Session | None = None) -> Decimal: ...
        def risk_context(self, s: Session, symbol: str) -> RiskContext: ...
        def open_trades(self) -> list[Trade]: ...
        def get_proposal(self, proposal_id: int) -> Proposal | None: ...
        async def drain_alerts(self, force: bool = True) -> int: ...
        async def approve(self, proposal_id: int, by: str) -> Decision: ...
        async def force_exit(self, trade_id: int | None, by: str) -> list[Trade]: ...
