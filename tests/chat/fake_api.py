"""An in-process TradingAPI over a real SQLite database, standing in for the engine.

It follows the contract in engine/service/api.py closely enough for the chat layer's tests:
idempotent approve/reject, expiry refused with ApprovalError, an order filled at the
last price, and outbox rows written in the same transaction as the fact.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import SQLModel, col, select

from engine.errors import ApprovalError, SentitradeError, StateError
from engine.risk.protections import active_locks, unlock
from engine.service.api import (
    BacktestOutput,
    BalanceView,
    BreakerState,
    Decision,
    HealthView,
    RiskStatus,
    StrategyView,
)
from engine.storage.config import BotSpec, Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.dbtypes import utcnow
from engine.storage.models import (
    Bot,
    BotState,
    Order,
    OrderState,
    OutboxMessage,
    PairLock,
    Proposal,
    ProposalState,
    RiskEvent,
    Trade,
)

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")


def make_settings(tmp: Path, **over: object) -> Settings:
    data: dict[str, object] = {
        "database": {"url": f"sqlite:///{tmp / 'chat.db'}"},
        "bots": [BotSpec(name="main", symbols=["BTC/USDT", "ETH/USDT"]).model_dump()],
        "security": {"key_file": str(tmp / "master.key")},
    }
    data.update(over)
    return Settings(**data)  # type: ignore[arg-type]


class FakeEngine:
    """TradingAPI for tests; `propose()` plays the strategy side."""

    def __init__(self, settings: Settings, propose_on_start: bool = True) -> None:
        self.settings = settings
        self.sessions = SessionFactory(make_engine(settings.database.url))
        SQLModel.metadata.create_all(self.sessions.engine)
        self.prices = {"BTC/USDT": Decimal("65000"), "ETH/USDT": Decimal("3000")}
        self.propose_on_start = propose_on_start
        self.breakers: list[BreakerState] = []
        self.regimes: dict[str, str] = {}  # "BTC/USDT 5m" -> regime, as /status shows
        self.last_candles: dict[str, datetime] = {}  # "BTC/USDT 5m" -> last close, /health
        self.clock_now: datetime | None = None  # a replay's clock; None = the wall clock
        self.placed: list[int] = []  # proposal ids that reached the "broker"
        self._lock = asyncio.Lock()
        with self.sessions.begin() as s:
            for spec in settings.bots:
                if s.exec(select(Bot).where(Bot.name == spec.name)).first() is None:
                    s.add(Bot(name=spec.name, strategy=spec.strategy, symbols=spec.symbols,
                              timeframe=spec.timeframe, mode=settings.exchange.mode))

    # -- bots
    def list_bots(self) -> list[Bot]:
        with self.sessions() as s:
            return list(s.exec(select(Bot).order_by(col(Bot.id))).all())

    def _bot(self, s: object, name: str | None) -> Bot:
        q = select(Bot).order_by(col(Bot.id))
        if name is not None:
            q = q.where(Bot.name == name)
        bot = s.exec(q).first()  # type: ignore[attr-defined]
        if bot is None:
            raise StateError(f"no bot named {name!r}")
        return bot

    async def _set(self, name: str | None, state: str, by: str) -> Bot:
        with self.sessions.begin() as s:
            bot = self._bot(s, name)
            bot.state, bot.state_changed_by = state, by
            s.add(bot)
        return bot

    async def start_bot(self, name: str | None, by: str) -> Bot:
        bot = await self._set(name, BotState.RUNNING, by)
        if self.propose_on_start:
            self.propose(bot.symbols[0])
        return bot

    async def stop_bot(self, name: str | None, by: str) -> Bot:
        return await self._set(name, BotState.STOPPED, by)

    async def pause_bot(self, name: str | None, by: str) -> Bot:
        return await self._set(name, BotState.PAUSED, by)

    # -- proposals
    def propose(self, symbol: str = "BTC/USDT", amount: str = "0.01",
                expires_in: float = 300) -> int:
        now = utcnow()
        px = self.prices[symbol]
        with self.sessions.begin() as s:
            p = Proposal(symbol=symbol, side="buy", amount=Decimal(amount), ref_price=px,
                         notional=px * Decimal(amount), reasons=["ema cross", "sentiment +0.4"],
                         expires_at=now + timedelta(seconds=expires_in))
            s.add(p)
            s.flush()
            s.add(OutboxMessage(event_id=str(uuid.uuid4()), kind="proposal",
                                payload={"proposal_id": p.id, "symbol": symbol}))
            assert p.id is not None
            return p.id

    def alert(self, kind: str, payload: dict[str, object]) -> int:
        with self.sessions.begin() as s:
            m = OutboxMessage(event_id=str(uuid.uuid4()), kind=kind, payload=payload)
            s.add(m)
            s.flush()
            assert m.id is not None
            return m.id

    def pending_proposals(self) -> list[Proposal]:
        with self.sessions() as s:
            return list(s.exec(select(Proposal).where(Proposal.state == ProposalState.PENDING)
                               .order_by(col(Proposal.id))).all())

    def get_proposal(self, proposal_id: int) -> Proposal | None:
        with self.sessions() as s:
            return s.get(Proposal, proposal_id)

    async def approve(self, proposal_id: int, by: str) -> Decision:
        async with self._lock:
            with self.sessions.begin() as s:
                p = s.get(Proposal, proposal_id)
                if p is None:
                    raise ApprovalError(f"no proposal #{proposal_id}")
                if p.state != ProposalState.PENDING:
                    order = s.exec(select(Order).where(Order.proposal_id == p.id)).first()
                    return Decision(p, False, order, f"already {p.state}")
                now = utcnow()
                if p.expires_at <= now:
                    p.state = ProposalState.EXPIRED
                    s.add(p)
                    s.flush()
                    return Decision(p, False, None, "expired")
                px = self.prices[p.symbol]
                fee = (px * p.amount * Decimal("0.001")).quantize(Decimal("0.0001"))
                t = Trade(symbol=p.symbol, amount=p.amount, stake=px * p.amount, open_price=px,
                          fees=fee)
                s.add(t)
                s.flush()
                o = Order(client_order_id=f"st-{p.id}", proposal_id=p.id, trade_id=t.id,
                          symbol=p.symbol, side=p.side, amount=p.amount, filled=p.amount,
                          average_price=px, fee=fee, state=OrderState.FILLED)
                s.add(o)
                p.state, p.decided_by, p.decided_at, p.executed_at = (
                    ProposalState.EXECUTED, by, now, now)
                s.add(p)
                s.add(OutboxMessage(event_id=str(uuid.uuid4()), kind="fill", payload={
                    "symbol": p.symbol, "side": p.side, "amount": str(p.amount),
                    "price": str(px), "fee": str(fee), "fee_currency": "USDT",
                    "proposal_id": p.id}))
                s.flush()
                self.placed.append(proposal_id)
                return Decision(p, True, o, "filled")

    async def reject(self, proposal_id: int, by: str) -> Decision:
        with self.sessions.begin() as s:
            p = s.get(Proposal, proposal_id)
            if p is None:
                raise ApprovalError(f"no proposal #{proposal_id}")
            if p.state != ProposalState.PENDING:
                return Decision(p, False)
            p.state, p.decided_by, p.decided_at = ProposalState.REJECTED, by, utcnow()
            s.add(p)
            return Decision(p, True)

    # -- money
    def open_trades(self) -> list[Trade]:
        with self.sessions() as s:
            return list(s.exec(select(Trade).where(col(Trade.is_open).is_(True))
                               .order_by(col(Trade.id))).all())

    async def last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        return {k: self.prices[k] for k in symbols if k in self.prices}

    async def balances(self) -> list[BalanceView]:
        return [BalanceView("USDT", Decimal("9350.5"), Decimal(0)),
                BalanceView("BTC", Decimal("0.01"), Decimal(0))]

    async def force_exit(self, trade_id: int | None, by: str) -> list[Trade]:
        out = []
        with self.sessions.begin() as s:
            q = select(Trade).where(col(Trade.is_open).is_(True))
            if trade_id is not None:
                q = q.where(Trade.id == trade_id)
            for t in s.exec(q).all():
                px = self.prices[t.symbol]
                t.is_open, t.close_price, t.close_at = False, px, utcnow()
                t.realized_pnl, t.exit_reason = (px - t.open_price) * t.amount, "force_exit"
                s.add(t)
                out.append(t)
        return out

    # -- risk
    def risk_status(self) -> RiskStatus:
        return RiskStatus(limits={"max_open_trades": self.settings.risk.max_open_trades},
                          usage={"max_open_trades": len(self.open_trades())},
                          breakers=list(self.breakers),
                          trading_state="halted" if self.breakers else "active")

    async def resume(self, by: str) -> list[RiskEvent]:
        cleared = [RiskEvent(rule=b.rule, action=b.action, cleared_by=by) for b in self.breakers]
        self.breakers.clear()
        return cleared

    # -- strategies
    def strategy_info(self, bot: str | None = None) -> StrategyView:
        """As the engine: the bot's strategy through the real loader (built-ins, the
        strategy folder, ``<Strategy>.json``, the bot's ``params``)."""
        from engine.strategy.params import load_strategy

        specs = self.settings.bots
        if bot is None and len(specs) != 1:
            raise SentitradeError(f"which bot? one of {', '.join(b.name for b in specs)}")
        spec = specs[0] if bot is None else next((b for b in specs if b.name == bot), None)
        if spec is None:
            raise SentitradeError(f"no bot {bot!r}: one of {', '.join(b.name for b in specs)}")
        ls = load_strategy(spec.strategy, self.settings.engine.strategy_path, spec.params)
        return StrategyView(spec.name, ls.strategy.name, type(ls.strategy).__name__,
                            str(ls.file) if ls.file else "built-in", spec.timeframe,
                            ls.values(), dict(ls.sources), str(ls.params_file),
                            str(ls.params_file) in ls.sources.values())

    def market_regimes(self) -> dict[str, str]:
        return dict(self.regimes)

    def now(self) -> datetime:
        return self.clock_now or utcnow()

    async def chart(self, pair: str, timeframe: str | None = None) -> bytes:
        if pair not in self.prices:
            raise SentitradeError(f"no bot trades {pair}: /whitelist lists the pairs")
        return PNG_1PX

    def order_types(self) -> list[str]:
        from engine.execution.ordertypes import capabilities

        return capabilities("paper").lines()

    def locks(self) -> list[PairLock]:
        with self.sessions() as s:
            return active_locks(s, self.now())

    async def unlock(self, pair: str | None, by: str) -> list[PairLock]:
        with self.sessions.begin() as s:
            return unlock(s, pair, self.now(), by)

    def health(self) -> HealthView:
        now = utcnow()
        return HealthView(now, now - timedelta(hours=1), dict(self.last_candles),
                          {k: k.split()[-1] for k in self.last_candles})

    async def backtest(self, pair: str, timeframe: str, days: int,
                       strategy: str) -> BacktestOutput:
        await asyncio.sleep(0)
        if pair not in self.prices:  # as the engine: no candles anywhere configured
            from engine.errors import DataError

            raise DataError(f"no {pair} {timeframe} candles in the embedded sample")
        return BacktestOutput(summary={"trades": 3, "profit_pct": 1.5}, report_png=PNG_1PX,
                              trades_csv=b"pair,profit\nBTC/USDT,1.5\n",
                              text=f"Backtest {pair} {timeframe} {days}d {strategy}: "
                                   "3 trades, +1.50%")
