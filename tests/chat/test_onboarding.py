"""Onboarding from the chat, end to end on the Telegram Bot API fake: an unknown user
sends /start, the admins (only they) get Admit / Block buttons with the user's name and
id, and the decision takes effect at once (no config edit, no restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.auth import REQUESTED, request_access
from commands.callbacks import CallbackSigner, derive_key
from engine.storage.models import AuditEntry, OutboxMessage, User
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.telegram_server import FakeTelegram

ADMIN, VIEWER, ALICE, MALLORY = 333, 222, 555, 556


@dataclass
class World:
    fake: FakeTelegram
    engine: FakeEngine


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url, "base_file_url": fake.base_file_url,
        "allowed_users": {str(ADMIN): "admin", str(VIEWER): "viewer"}})
    engine = FakeEngine(settings, propose_on_start=False)
    tg = TelegramTransport(settings, engine, CallbackSigner(derive_key(b"o" * 32)),
                           poll_timeout=1, rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    notifier = Notifier(engine, [tg], poll_interval=0.02, backoff_base=0.05, backoff_cap=0.2)
    await tg.start()
    await notifier.start()
    try:
        yield World(fake, engine)
    finally:
        await notifier.stop()
        await tg.stop()
        await fake.stop()


def _texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat)]


def _request_msg(fake: FakeTelegram, who: int) -> int:
    for m in fake.sent_to(ADMIN):
        if m.reply_markup and f"telegram:{who}" in m.text and "Access request" in m.text:
            return m.message_id
    return 0


def _button(fake: FakeTelegram, mid: int, label: str) -> str:
    rows = fake.messages[mid].reply_markup["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


async def test_admit_and_block_from_the_chat(world: World) -> None:
    fake = world.fake
    await fake.push_text(ALICE, "/start", name="Alice")
    await fake.wait_for(lambda: REQUESTED in _texts(fake, ALICE))
    await fake.wait_for(lambda: _request_msg(fake, ALICE) != 0)
    mid = _request_msg(fake, ALICE)
    assert "Alice" in fake.messages[mid].text
    assert not any("Access request" in t for t in _texts(fake, VIEWER))  # admins only
    # before a decision Alice is refused like any stranger
    await fake.push_text(ALICE, "/status")
    await fake.push_text(VIEWER, "/version")
    await fake.wait_for(lambda: any("sentitrade" in t for t in _texts(fake, VIEWER)))
    assert not any("Mode:" in t for t in _texts(fake, ALICE))
    # a viewer pressing Admit (a forwarded message) is refused; the admin's press admits
    await fake.push_press(VIEWER, mid, _button(fake, mid, "Admit"))
    await fake.push_press(ADMIN, mid, _button(fake, mid, "Admit"))
    await fake.wait_for(lambda: any("admitted as viewer" in t for t in _texts(fake, ADMIN)))
    await fake.push_text(ALICE, "/status")
    await fake.wait_for(lambda: any("Mode:" in t for t in _texts(fake, ALICE)))
    # Mallory is blocked: refused from then on, and asking again alerts nobody
    await fake.push_text(MALLORY, "/start", name="Mallory")
    await fake.wait_for(lambda: _request_msg(fake, MALLORY) != 0)
    m2 = _request_msg(fake, MALLORY)
    await fake.push_press(ADMIN, m2, _button(fake, m2, "Block"))
    await fake.wait_for(lambda: any("blocked by" in t for t in _texts(fake, ADMIN)))
    await fake.push_text(MALLORY, "/start")
    await fake.push_text(MALLORY, "/status")
    await fake.push_text(VIEWER, "/version")
    await fake.wait_for(lambda: sum("sentitrade" in t for t in _texts(fake, VIEWER)) >= 2)
    assert not any("Mode:" in t for t in _texts(fake, MALLORY))
    with world.engine.sessions() as s:
        roles = {u.external_id: u.role for u in s.exec(select(User)).all()}
        requests = s.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "access_request")).all()
        presses = [(a.user_id, a.action, a.outcome)
                   for a in s.exec(select(AuditEntry)).all() if a.action.startswith("button")]
    assert roles == {str(ALICE): "viewer", str(MALLORY): "blocked"}
    assert len(requests) == 2
    assert (str(VIEWER), "button:admit", "refused") in presses
    assert (str(ADMIN), "button:admit", "ok") in presses


def test_requests_are_bounded(tmp_path: Path) -> None:
    engine = FakeEngine(make_settings(tmp_path), propose_on_start=False)
    made = [request_access(engine.sessions, "telegram", str(1000 + i), f"u{i}")
            for i in range(25)]
    assert made.count(True) == 20  # MAX_PENDING open requests; the rest only logged
    assert not request_access(engine.sessions, "telegram", "1000", "u0")  # once per user
