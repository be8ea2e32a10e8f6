"""Approve/reject through the real Engine with the paper broker and a manual clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from engine.errors import ApprovalError, InvalidStateTrigger
from engine.execution.approvals import NEXT, PROPOSAL_FSM, ProposalTrigger
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.models import (
    Fill,
    Order,
    OrderState,
    OutboxMessage,
    Proposal,
    ProposalState,
    Trade,
)


def _proposal(eng: Engine, *, amount: str = "0.01", price: str = "60000", side: str = "buy",
              intent: str = "enter", expires_s: int = 300, trade_id: int | None = None) -> int:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        bot = eng.bots.get("b1")
        p = Proposal(bot_id=bot.id, symbol="BTC/USDT", side=side, intent=intent,
                     amount=Decimal(amount), ref_price=Decimal(price), trade_id=trade_id,
                     notional=Decimal(amount) * Decimal(price), reasons=["test"],
                     created_at=now, expires_at=now + timedelta(seconds=expires_s))
        s.add(p)
        s.flush()
        assert p.id is not None
        return p.id


def test_table_missing_pair_raises() -> None:
    assert PROPOSAL_FSM.next(ProposalState.PENDING, ProposalTrigger.APPROVE) == "approved"
    with pytest.raises(InvalidStateTrigger):
        PROPOSAL_FSM.next(ProposalState.REJECTED, ProposalTrigger.APPROVE)
    assert (ProposalState.EXPIRED, ProposalTrigger.APPROVE) not in NEXT


async def test_approve_places_one_order_and_records_who(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    pid = _proposal(eng)
    d1, d2 = await asyncio.gather(eng.approve(pid, "telegram:1"), eng.approve(pid, "discord:2"))
    assert sorted([d1.changed, d2.changed]) == [False, True]
    first = d1 if d1.changed else d2
    assert first.order is not None and first.order.state == OrderState.FILLED
    assert first.proposal.decided_by == "telegram:1"
    assert first.proposal.state == ProposalState.EXECUTED
    with eng.sessions() as s:
        assert s.exec(select(func.count()).select_from(Order)).one() == 1
        assert s.exec(select(func.count()).select_from(Fill)).one() == 1
        t = s.exec(select(Trade)).one()
        assert t.is_open and t.amount == Decimal("0.01")
        kinds = [m.kind for m in s.exec(select(OutboxMessage)).all()]
    assert kinds.count("fill") == 1 and "proposal_decided" in kinds
    d3 = await eng.approve(pid, "telegram:1")
    assert not d3.changed and d3.order is not None and d3.order.id == first.order.id
    with pytest.raises(ApprovalError, match="already"):
        await eng.reject(pid, "telegram:1")


async def test_reject_is_idempotent_and_blocks_approve(engine_factory) -> None:
    eng: Engine = await engine_factory()
    pid = _proposal(eng)
    d = await eng.reject(pid, "console")
    assert d.changed and d.proposal.state == ProposalState.REJECTED
    assert d.proposal.decided_by == "console" and d.proposal.decided_at == eng.clock.now()
    assert not (await eng.reject(pid, "console")).changed
    with pytest.raises(ApprovalError, match="rejected by console"):
        await eng.approve(pid, "telegram:1")


async def test_expired_cannot_be_approved(engine_factory, clock) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    pid = _proposal(eng, expires_s=30)
    clock.advance(seconds=31)
    with pytest.raises(ApprovalError, match="expired"):
        await eng.approve(pid, "telegram:1")
    assert eng.get_proposal(pid).state == ProposalState.EXPIRED  # type: ignore[union-attr]
    pid2 = _proposal(eng, expires_s=10)
    clock.advance(seconds=11)
    assert await eng.expire_due() == 1
    with pytest.raises(ApprovalError, match="expired"):
        await eng.approve(pid2, "x")


async def test_drift_refuses_with_reason(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("61000"))  # +1.67% > 1% default
    pid = _proposal(eng)
    with pytest.raises(ApprovalError, match=r"price moved 1\.67%"):
        await eng.approve(pid, "telegram:1")
    p = eng.get_proposal(pid)
    assert p is not None and p.state == ProposalState.FAILED and "moved" in (p.decision_note or "")
    with eng.sessions() as s:
        assert s.exec(select(func.count()).select_from(Order)).one() == 0


async def test_risk_recheck_refuses(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    pid = _proposal(eng, amount="0.05")  # 3000 = 30% of 10000 > 20%
    with pytest.raises(ApprovalError, match=r"max 20\.0%"):
        await eng.approve(pid, "telegram:1")


async def test_force_exit_closes_with_pnl(engine_factory) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    await eng.approve(_proposal(eng), "auto")
    eng.quotes["BTC/USDT"] = Quote(Decimal("63000"))
    [t] = await eng.force_exit(None, "telegram:1")
    assert not t.is_open
    # bought 0.01 @ 60000 (fee 0.6), sold @ 63000 (fee 0.63): pnl = 630 - 0.63 - 600.6
    assert t.realized_pnl == Decimal("28.77")
    bal = {b.asset: b for b in await eng.balances()}
    assert bal["USDT"].free == Decimal("10028.77") and bal["BTC"].free == 0


def test_policies() -> None:
    from engine.execution.approvals import needs_approval

    assert not needs_approval("auto", Decimal(10**6), Decimal(100))
    assert needs_approval("manual", Decimal(1), Decimal(100))
    assert not needs_approval("threshold", Decimal(100), Decimal(100))
    assert needs_approval("threshold", Decimal("100.01"), Decimal(100))


async def test_engine_implements_trading_api(engine_factory) -> None:
    from engine.service.api import TradingAPI

    eng: Engine = await engine_factory()
    assert isinstance(eng, TradingAPI)
    assert [b.name for b in eng.list_bots()] == ["b1"]


async def test_daily_summary_reports_yesterday(engine_factory, clock) -> None:
    eng: Engine = await engine_factory()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    await eng.approve(_proposal(eng), "auto")
    eng.quotes["BTC/USDT"] = Quote(Decimal("63000"))
    await eng.force_exit(None, "x")
    clock.set(clock.now().replace(hour=0, minute=0) + timedelta(days=1))
    await eng.daily_summary()
    await eng.daily_summary()  # the scheduler firing twice makes one alert
    with eng.sessions() as s:
        [m] = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "daily_summary")).all()
    assert m.payload["day"] == "2025-10-01" and m.payload["trades_closed"] == 1
    assert Decimal(m.payload["realized_pnl"]) == Decimal("28.77")
