"""Approvals and force exits from the chat/API process run in the engine worker that
has the prices, over the bus (request/reply), with the same results and errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.bus import EventBus
from engine.clock import ManualClock
from engine.errors import ApprovalError, SentitradeError
from engine.execution.paper import Quote
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.service.remote import FrontEngine, serve_commands
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import OrderState, Proposal, ProposalState
from tests.engine.conftest import T0, make_settings


async def _pair(tmp_path: Path, bus: EventBus) -> tuple[Engine, FrontEngine]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    settings = make_settings(url)
    clock = ManualClock(T0)
    worker = Engine(settings, SessionFactory(make_engine(url)), clock=clock,
                    notifiers=[ConsoleNotifier()])
    await worker.start()
    worker.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    front = FrontEngine(settings, SessionFactory(make_engine(url)), clock=clock,
                        notifiers=[ConsoleNotifier()])
    front.front_bus, front.front_name = bus, "chat:test"
    return worker, front


def _proposal(eng: Engine) -> int:
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        bot = eng.bots.get("b1")
        p = Proposal(bot_id=bot.id, symbol="BTC/USDT", side="buy", intent="enter",
                     amount=Decimal("0.01"), ref_price=Decimal("60000"),
                     notional=Decimal("600"), reasons=["test"], created_at=now,
                     expires_at=now + timedelta(seconds=300))
        s.add(p)
        s.flush()
        assert p.id is not None
        return p.id


async def _served(worker: Engine, bus: EventBus, coro: Any) -> Any:
    task = asyncio.ensure_future(coro)
    while not task.done():
        await serve_commands(worker, bus, "w1")
        await asyncio.sleep(0.01)
    return task.result()


async def test_approve_and_force_exit_run_in_the_worker(tmp_path: Path, bus: EventBus) -> None:
    worker, front = await _pair(tmp_path, bus)
    pid = _proposal(worker)
    d = await _served(worker, bus, front.approve(pid, "telegram:1"))
    assert d.changed and d.order is not None and d.order.state == OrderState.FILLED
    assert d.proposal.state == ProposalState.EXECUTED
    again = await _served(worker, bus, front.approve(pid, "discord:2"))
    assert not again.changed and again.order.id == d.order.id
    with pytest.raises(ApprovalError, match="no proposal #999"):
        await _served(worker, bus, front.approve(999, "telegram:1"))
    closed = await _served(worker, bus, front.force_exit(None, "telegram:1"))
    assert len(closed) == 1 and not closed[0].is_open
    for e in (worker, front):
        await e.close()


async def test_no_worker_is_one_clear_line(tmp_path: Path, bus: EventBus) -> None:
    worker, front = await _pair(tmp_path, bus)
    front.reply_timeout_s = 0.3
    with pytest.raises(SentitradeError, match="no engine worker answered approve"):
        await front.approve(_proposal(worker), "telegram:1")
    for e in (worker, front):
        await e.close()
