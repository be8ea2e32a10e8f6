"""The engine's face to the outside: what chat commands (and the CLI) may ask of it.

`commands/` talks to the engine only through `TradingAPI` (plus read-only queries on
`engine.storage.models`), so every command works the same from console, Telegram and Discord,
and tests can drive the real engine in-process. The engine's implementation is
`engine.service.engine.Engine` (issue 6); the contract is this file.

Every mutating method takes `by` (who asked: "telegram:123", "discord:456",
"console", "auto") and records it. Methods raise `SentitradeError` subclasses with a
message that can be shown to the user as it is (no secrets, no stack traces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from engine.execution.algos import AlgoSpec
from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.storage.models import AlgoOrder, Bot, Order, PairLock, Proposal, RiskEvent, Trade


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome of approve/reject. `changed` is False for a repeated tap (idempotent)."""

    proposal: Proposal
    changed: bool
    order: Order | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class BreakerState:
    rule: str  # daily_loss | drawdown_pause | drawdown_stop | api_errors | price_spike
    action: str  # pause_entries | stop_bot | pause_exchange | cancel_pending
    measured: float
    threshold: float
    until: datetime | None
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class RiskStatus:
    """Limits, how much of each is used, and active breakers (for /risk and /status)."""

    limits: dict[str, Any]
    usage: dict[str, Any]
    breakers: list[BreakerState] = field(default_factory=list)
    trading_state: str = "active"  # active | reducing | halted


@dataclass(frozen=True, slots=True)
class BalanceView:
    asset: str
    free: Decimal
    locked: Decimal


@dataclass(frozen=True, slots=True)
class BacktestOutput:
    """A finished backtest for the chat: summary metrics, chart and trade list."""

    summary: dict[str, Any]
    report_png: bytes | None
    trades_csv: bytes | None
    text: str


@dataclass(frozen=True, slots=True)
class StrategyView:
    """A bot's active strategy for `/strategy`: parameters and where each came from
    (``default``, the hyperopt file's path, or ``settings``)."""

    bot: str
    strategy: str
    class_name: str
    source: str  # "built-in" or the strategy file
    timeframe: str
    params: dict[str, Any]
    sources: dict[str, str]
    params_file: str
    params_file_loaded: bool


@dataclass(frozen=True, slots=True)
class HealthView:
    """Is the engine alive and fed? For /health: the engine clock (replay time in a
    replay), when it started, and each series' last closed candle."""

    now: datetime
    started_at: datetime
    last_candles: dict[str, datetime]  # "BTC/USDT 5m" -> close time of the last candle
    timeframes: dict[str, str]         # the same keys -> timeframe, to judge staleness


class Attachment(Protocol):
    """Something that runs beside the engine for the service's lifetime (the chat
    transports and their alert notifier): built from the engine, started after it,
    stopped before it closes. `engine` never imports what implements this."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@runtime_checkable
class TradingAPI(Protocol):
    settings: Settings
    sessions: SessionFactory

    # -- bots
    def list_bots(self) -> list[Bot]: ...
    async def start_bot(self, name: str | None, by: str) -> Bot: ...
    async def stop_bot(self, name: str | None, by: str) -> Bot: ...
    async def pause_bot(self, name: str | None, by: str) -> Bot: ...

    # -- proposals (approve/reject are idempotent; approve re-validates drift and risk
    #    and, on success, places the order before returning)
    def pending_proposals(self) -> list[Proposal]: ...
    def get_proposal(self, proposal_id: int) -> Proposal | None: ...
    async def approve(self, proposal_id: int, by: str) -> Decision: ...
    async def reject(self, proposal_id: int, by: str) -> Decision: ...

    # -- positions and money
    def open_trades(self) -> list[Trade]: ...
    async def last_prices(self, symbols: list[str]) -> dict[str, Decimal]: ...
    async def balances(self) -> list[BalanceView]: ...
    async def force_exit(self, trade_id: int | None, by: str) -> list[Trade]: ...

    # -- a trader's own orders (engine.service.manual) and execution algos
    #    (engine.service.algodesk): forced entries pass the risk checks, algos stop on
    #    a breaker; every slice is an order linked to its algo
    async def force_entry(self, pair: str, side: str, rate: Decimal | None,
                          by: str) -> Decision: ...
    async def cancel_order(self, order_id: int, by: str) -> Order: ...
    async def start_algo(self, spec: AlgoSpec, by: str, *, bot: str | None = None,
                         trade_id: int | None = None) -> AlgoOrder: ...
    def algos(self, active_only: bool = True) -> list[AlgoOrder]: ...
    def get_algo(self, algo_id: int) -> AlgoOrder: ...
    async def cancel_algo(self, algo_id: int, by: str) -> AlgoOrder: ...

    # -- risk
    def risk_status(self) -> RiskStatus: ...
    async def resume(self, by: str) -> list[RiskEvent]: ...

    # -- strategies
    def strategy_info(self, bot: str | None = None) -> StrategyView: ...
    def market_regimes(self) -> dict[str, str]: ...
    def health(self) -> HealthView: ...
    def now(self) -> datetime:
        """The engine's clock (replay time in a replay): what reports count back from."""
        ...
    def order_types(self) -> list[str]: ...
    def locks(self) -> list[PairLock]: ...
    async def chart(self, pair: str, timeframe: str | None = None) -> bytes: ...
    async def unlock(self, pair: str | None, by: str) -> list[PairLock]: ...

    # -- research
    async def backtest(
        self, pair: str, timeframe: str, days: int, strategy: str
    ) -> BacktestOutput: ...


async def open_positions(api: TradingAPI) -> list[tuple[Trade, Decimal | None, Decimal | None]]:
    """Open trades with their last price and unrealised PnL after the fees paid (None
    where no price is known): what /status, /positions and the dashboard all show."""
    trades = api.open_trades()
    prices = await api.last_prices(sorted({t.symbol for t in trades})) if trades else {}
    out: list[tuple[Trade, Decimal | None, Decimal | None]] = []
    for t in trades:
        px = prices.get(t.symbol)
        pnl = None
        if px is not None:
            sign = 1 if t.side == "long" else -1
            pnl = (px - t.open_price) * t.amount * sign - t.fees
        out.append((t, px, pnl))
    return out
