"""The chat flow against the real engine (paper broker) instead of the test fake:
/start_bot -> proposal pushed -> Approve pressed -> paper order filled -> fill alert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from bot.transports import SinkNotifier
from commands.callbacks import CallbackSigner, derive_key
from engine.events import ProposalCreated, record
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Proposal
from tests.fakes.telegram_server import FakeTelegram

TRADER = 111


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Engine, TelegramTransport,
                                                      Notifier]]:
    fake = FakeTelegram()
    await fake.start()
    url = f"sqlite:///{tmp_path / 'real.db'}"
    upgrade(url)
    settings = Settings(database={"url": url},  # type: ignore[arg-type]
                        exchange={"mode": "paper", "slippage_bps": 0},  # type: ignore[arg-type]
                        bots=[{"name": "main", "symbols": ["BTC/USDT"]}],  # type: ignore[list-item]
                        telegram={"token": fake.token, "base_url": fake.base_url,  # type: ignore[arg-type]
                                  "allowed_users": {str(TRADER): "trader"}})
    eng = Engine(settings, SessionFactory(make_engine(url)))
    await eng.start()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    tg = TelegramTransport(settings, eng, CallbackSigner(derive_key(b"r" * 32)), poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    notifier = Notifier(eng, [tg], poll_interval=0.02)
    tg.on_decided = notifier.proposal_decided
    await tg.start()
    await notifier.start()
    try:
        yield fake, eng, tg, notifier
    finally:
        await notifier.stop()
        await tg.stop()
        await eng.close()
        await fake.stop()


def _propose(eng: Engine) -> int:
    """What the engine does when a signal passes risk (engine.service.engine._signal_to_proposal)."""
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        bot = eng.bots.get("main")
        p = Proposal(bot_id=bot.id, symbol="BTC/USDT", side="buy", amount=Decimal("0.01"),
                     ref_price=Decimal("60000"), notional=Decimal("600"), reasons=["test"],
                     created_at=now, expires_at=now + timedelta(seconds=300))
        s.add(p)
        s.flush()
        assert p.id is not None
        record(s, ProposalCreated(ts_event=now, proposal_id=p.id, bot="main", symbol=p.symbol,
                                  side="buy", intent="enter", amount=p.amount,
                                  ref_price=p.ref_price, notional=p.notional, stop_price=None,
                                  reasons=["test"], expires_at=p.expires_at,
                                  needs_approval=True))
        return p.id


async def test_real_engine_approve_flow(real: tuple[FakeTelegram, Engine, TelegramTransport,
                                                    Notifier]) -> None:
    fake, eng, _tg, _n = real
    await fake.push_text(TRADER, "/start_bot main")
    await fake.wait_for(lambda: any("Started main: running" in m.text
                                    for m in fake.sent_to(TRADER)))
    pid = _propose(eng)
    mid = await fake.wait_for(lambda: next((m.message_id for m in fake.sent_to(TRADER)
                                            if m.reply_markup), 0))
    data = fake.messages[mid].reply_markup["inline_keyboard"][0][0]["callback_data"]
    cq = await fake.push_press(TRADER, mid, data)
    cq2 = await fake.push_press(TRADER, mid, data)  # double tap
    await fake.wait_for(lambda: fake.answer_for(cq) and fake.answer_for(cq2))
    assert sorted([fake.answer_for(cq)["text"], fake.answer_for(cq2)["text"]])[1] == (  # type: ignore[index]
        "Approved.")
    await fake.wait_for(lambda: fake.messages[mid].edits)
    assert "Approved by alice" in fake.messages[mid].edits[-1]
    assert "filled 0.01 @ 60,000.0000" in fake.messages[mid].edits[-1]
    await fake.wait_for(lambda: any(m.text.startswith("Filled: BUY 0.01 BTC/USDT @ 60,000")
                                    for m in fake.sent_to(TRADER)))
    assert eng.get_proposal(pid).state == "executed"  # type: ignore[union-attr]
    assert len(eng.open_trades()) == 1


async def test_sink_notifier_speaks_engine_protocol(
        real: tuple[FakeTelegram, Engine, TelegramTransport, Notifier]) -> None:
    from engine.outbox import Notifier as EngineNotifier
    from engine.outbox import OutboxDispatcher

    fake, eng, tg, notifier = real
    await notifier.stop()  # the engine's own dispatcher drains this time
    adapters = [SinkNotifier(eng, tg, d) for d in tg.destinations()]
    assert all(isinstance(a, EngineNotifier) for a in adapters)
    _propose(eng)
    disp = OutboxDispatcher(eng.sessions, adapters)
    disp.ensure_deliveries()
    assert await disp.drain() >= 1
    assert any(m.reply_markup for m in fake.sent_to(TRADER))
