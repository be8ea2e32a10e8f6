"""Deterministic crash points (the SIGKILL test hits them only by chance).

Each test stops the work at one point between two commits, builds a NEW Engine on the
same database (what a restart does) and checks that the work completes exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from engine.data.candles import Bar
from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.service.trading import Decision, StrategyLoop
from engine.storage.models import Fill, Order, OrderState, Proposal, ProposalState


def _always_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """The strategy says "enter" on every candle (from the first one)."""
    monkeypatch.setattr(StrategyLoop, "_decide", lambda self, rt, sig, trade, bot: (
        Decision("long", ("test",), {}) if trade is None else None))


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


async def test_order_row_committed_but_never_sent(engine_factory) -> None:
    eng: Engine = await engine_factory()
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side="buy",
                     intent="enter", amount=Decimal("0.01"), ref_price=Decimal(60000),
                     created_at=now, expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        transition(s, p, ProposalTrigger.APPROVE, by="telegram:1", at=now)
        eng.execution.create_order_row(s, p)
    # restart: a new engine reconciles; prices are known again
    again: Engine = await engine_factory()
    again.quotes["BTC/USDT"] = Quote(Decimal(60000))
    notes = await again.reconcile()
    assert notes == ["st-p1: resubmitted"]
    await again.reconcile()  # a second pass finds nothing to do
    with again.sessions() as s:
        o = s.exec(select(Order)).one()
        assert o.state == OrderState.FILLED
        assert s.exec(select(func.count()).select_from(Fill)).one() == 1
        assert s.get(Proposal, o.proposal_id).state == ProposalState.EXECUTED  # type: ignore[union-attr]


async def test_proposal_committed_but_not_yet_auto_approved(engine_factory, clock,
                                                            monkeypatch) -> None:
    eng: Engine = await engine_factory(approvals={"mode": "auto"})
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    _always_long(monkeypatch)

    async def die(*a: object, **k: object) -> None:
        raise Crash

    monkeypatch.setattr(Engine, "approve", die)
    bar = Bar("BTC/USDT", "5m", clock.now(), 60000, 60000, 60000, 60000, 1)
    with pytest.raises(Crash):
        await eng.on_bar(bar)
    [p] = eng.pending_proposals()
    monkeypatch.undo()
    _always_long(monkeypatch)
    again: Engine = await engine_factory(approvals={"mode": "auto"})
    again.quotes["BTC/USDT"] = Quote(Decimal(60000))
    assert await again.on_bar(bar) == []  # the replayed candle makes no second signal...
    done = again.get_proposal(p.id or 0)
    assert done is not None and done.state == ProposalState.EXECUTED  # ...but finishes it
    assert done.decided_by == "auto"
    await again.on_bar(bar)
    with again.sessions() as s:
        assert s.exec(select(func.count()).select_from(Order)).one() == 1



async def test_unsent_order_waits_for_its_own_time(engine_factory, clock) -> None:
    """A replay restarted at an earlier candle must not price an order committed later
    (the fill would land before the order existed, at an older price)."""
    eng: Engine = await engine_factory()
    t0 = clock.now()
    later = t0 + timedelta(minutes=10)
    clock.set(later)
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side="buy",
                     intent="enter", amount=Decimal("0.01"), ref_price=Decimal(61000),
                     created_at=later, expires_at=later + timedelta(minutes=5))
        s.add(p)
        s.flush()
        transition(s, p, ProposalTrigger.APPROVE, by="auto", at=later)
        eng.execution.create_order_row(s, p)
    clock.set(t0)  # the restart resumes at an older candle, with its older price
    again: Engine = await engine_factory()
    again.quotes["BTC/USDT"] = Quote(Decimal(60000))
    assert [n.split(":")[1].split("(")[0].strip() for n in await again.reconcile()] == ["deferred"]
    assert await again.execution.submit_due() == 1
    with again.sessions() as s:
        assert s.exec(select(func.count()).select_from(Fill)).one() == 0
    clock.set(later)  # the replay reaches the order's candle again
    again.quotes["BTC/USDT"] = Quote(Decimal(61000))
    assert await again.execution.submit_due() == 0
    with again.sessions() as s:
        o = s.exec(select(Order)).one()
        f = s.exec(select(Fill)).one()
        p2 = s.get(Proposal, o.proposal_id)
        assert o.state == OrderState.FILLED and f.price == Decimal(61000)
        assert f.ts >= o.created_at
        assert p2 is not None and p2.executed_at is not None and p2.decided_at is not None
        assert p2.executed_at >= p2.decided_at
