"""Digests, per-chat modes, admin-only errors and shutdown persistence, end to end over
the real python-telegram-bot / discord.py clients and the loopback fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.digest import Policy
from bot.discord_bot import DiscordTransport
from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from bot.transports import ChatServices
from commands.callbacks import CallbackSigner, derive_key
from engine.storage.config import NotifySettings
from engine.storage.models import DeliveryState, OutboxDelivery
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

TRADER, ADMIN = 111, 333
SIGNER = CallbackSigner(derive_key(b"g" * 32))


def _notify(**over: Any) -> NotifySettings:
    return NotifySettings(**{"digest_window_seconds": 0.3, **over})


async def _telegram(tmp: Path, fake: FakeTelegram, notify: NotifySettings,
                    **tg: Any) -> tuple[FakeEngine, TelegramTransport, Notifier]:
    settings = make_settings(tmp, telegram={
        "token": fake.token, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader", str(ADMIN): "admin"}, **tg})
    engine = FakeEngine(settings, propose_on_start=False)
    t = TelegramTransport(settings, engine, SIGNER, poll_timeout=1,
                          rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    n = Notifier(engine, [t], poll_interval=0.02, backoff_base=0.05, backoff_cap=0.2,
                 policy=Policy(notify))
    t.on_decided, t.notifier = n.proposal_decided, n
    return engine, t, n


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    f = FakeTelegram()
    await f.start()
    yield f
    await f.stop()


def _labels(markup: Any) -> set[str]:
    return {b["text"] for row in (markup or {}).get("inline_keyboard", []) for b in row}


def _delivered_refs(engine: FakeEngine, dest: str) -> list[str | None]:
    with engine.sessions() as s:
        rows = s.exec(select(OutboxDelivery).where(OutboxDelivery.destination == dest)
                      .order_by(OutboxDelivery.outbox_id)).all()
    assert all(r.state == DeliveryState.DELIVERED for r in rows), [r.state for r in rows]
    return [r.external_ref for r in rows]


async def test_proposal_burst_is_one_message_with_a_row_each(tmp_path: Path,
                                                             fake: FakeTelegram) -> None:
    engine, tg, n = await _telegram(tmp_path, fake, _notify())
    await tg.start()
    try:
        pids = [engine.propose() for _ in range(25)]
        engine.alert("fill", {"symbol": "BTC/USDT", "side": "buy", "amount": "1",
                              "price": "65000", "fee": "0.1"})
        await n.start()
        assert await n.wait_idle(timeout=10)
        [msg] = fake.sent_to(TRADER)
        assert msg.text.startswith("26 alerts #") and "25 proposals, 1 fill" in msg.text
        rows = msg.reply_markup["inline_keyboard"]
        assert len(rows) == 20 and [b["text"] for b in rows[0]] == [
            f"Approve #{pids[0]}", f"Reject #{pids[0]}", f"Details #{pids[0]}"]
        assert "5 more pending: /pending" in msg.text
        assert set(_delivered_refs(engine, f"telegram:{TRADER}")) == {str(msg.message_id)}
        # a press on one row decides that one; the message stays the digest
        data = rows[1][0]["callback_data"]
        cq = await fake.push_press(TRADER, msg.message_id, data)
        await fake.wait_for(lambda: fake.answer_for(cq) and msg.edits)
        assert engine.get_proposal(pids[1]).state == "executed"  # type: ignore[union-attr]
        assert msg.edits[-1].startswith("26 alerts #")
        assert f"Approve #{pids[1]}" not in _labels(msg.reply_markup)
        assert f"Approve #{pids[0]}" in _labels(msg.reply_markup)
        # the admin's copy (another chat) is edited the same way
        [other] = fake.sent_to(ADMIN)
        await fake.wait_for(lambda: other.edits)
        assert f"Approve #{pids[1]}" not in _labels(other.reply_markup)
    finally:
        await n.stop()
        await tg.stop()


async def test_modes_quiet_hours_and_admin_only_errors(tmp_path: Path,
                                                       fake: FakeTelegram) -> None:
    notify = _notify(digest_window_seconds=0, chats={
        f"telegram:{TRADER}": {"fill": "off", "breaker_tripped": "silent"}})
    engine, tg, n = await _telegram(tmp_path, fake, notify)
    await tg.start()
    try:
        engine.alert("fill", {"symbol": "BTC/USDT", "price": "1"})
        engine.alert("breaker_tripped", {"rule": "daily_loss"})
        for _ in range(3):  # a job failing every 5 minutes: one alert
            engine.alert("error", {"text": "job news failed: timeout"})
        await n.start()
        assert await n.wait_idle(timeout=10)
        trader, admin = fake.sent_to(TRADER), fake.sent_to(ADMIN)
        assert [m.text.split("\n")[0] for m in trader] == [
            "Circuit breaker tripped: daily_loss"]
        assert trader[0].silent
        assert [m.text for m in admin if m.text.startswith("Error")] == [
            "Error: job news failed: timeout"]
        assert not any(m.silent for m in admin)
    finally:
        await n.stop()
        await tg.stop()
    quiet = Policy(NotifySettings(quiet_hours="00:00-23:59"))
    assert quiet.quiet() and not Policy(NotifySettings()).quiet()


async def test_digest_mode_is_held_then_sent_silently(tmp_path: Path,
                                                      fake: FakeTelegram) -> None:
    engine, tg, n = await _telegram(tmp_path, fake, _notify(
        digest_window_seconds=0, digest_seconds=1.0, types={"fill": "digest"}),
        chat_ids=[TRADER])
    await tg.start()
    try:
        for i in range(4):
            engine.alert("fill", {"symbol": "BTC/USDT", "price": str(i)})
        engine.alert("breaker_tripped", {"rule": "daily_loss"})
        await n.start()
        await fake.wait_for(lambda: fake.sent_to(TRADER))
        first = fake.sent_to(TRADER)[0]
        assert first.text.startswith("Circuit breaker")  # not held behind the fills
        await fake.wait_for(lambda: len(fake.sent_to(TRADER)) == 2, timeout=5)
        digest = fake.sent_to(TRADER)[1]
        assert digest.text.startswith("4 alerts #") and digest.silent
    finally:
        await n.stop()
        await tg.stop()


async def test_stop_persists_the_queue_and_the_next_start_sends_it(tmp_path: Path,
                                                                   fake: FakeTelegram) -> None:
    engine, tg, n = await _telegram(tmp_path, fake, _notify(), chat_ids=[TRADER])
    services = ChatServices(engine, [tg], n, SIGNER, drain_on_stop=0.5)
    await services.start()
    assert await services.wait_ready(10)
    fake.down = True  # Telegram unreachable while the service stops
    for i in range(120):
        engine.alert("fill", {"symbol": "BTC/USDT", "price": str(i)})
    await asyncio.sleep(0.5)
    t0 = asyncio.get_running_loop().time()
    await services.stop()
    assert asyncio.get_running_loop().time() - t0 < 5
    assert fake.sent_to(TRADER) == [] and n.pending() == 120
    fake.down = False  # the next start: a new process, same database
    engine2, tg2, n2 = await _telegram(tmp_path, fake, _notify(), chat_ids=[TRADER])
    services2 = ChatServices(engine2, [tg2], n2, SIGNER, drain_on_stop=3)
    await services2.start()
    try:
        assert await n2.wait_idle(timeout=15)
        texts = [m.text for m in fake.sent_to(TRADER)]
        assert len(texts) <= 3 and texts[0].startswith("120 alerts #")  # one backlog digest
        assert len(set(_delivered_refs(engine2, f"telegram:{TRADER}"))) == len(texts)
    finally:
        await services2.stop()


async def test_stop_drains_what_is_queued(tmp_path: Path, fake: FakeTelegram) -> None:
    engine, tg, n = await _telegram(tmp_path, fake, _notify(digest_seconds=600,
                                                            types={"fill": "digest"}),
                                    chat_ids=[TRADER])
    services = ChatServices(engine, [tg], n, SIGNER, drain_on_stop=3)
    await services.start()
    assert await services.wait_ready(10)
    for i in range(30):  # held for a 10-minute digest...
        engine.alert("fill", {"symbol": "BTC/USDT", "price": str(i)})
    await asyncio.sleep(0.3)
    assert fake.sent_to(TRADER) == []
    await services.stop()  # ...and sent at shutdown
    assert n.pending() == 0
    assert fake.sent_to(TRADER)[0].text.startswith("30 alerts")


async def test_discord_burst_is_one_message_within_five_rows(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    settings = make_settings(tmp_path, discord={
        "token": fake.token, "api_base": fake.rest_base, "guild_id": fake.guild_id,
        "channel_id": fake.channel_id, "allowed_users": {str(TRADER): "trader"}})
    engine = FakeEngine(settings, propose_on_start=False)
    dc = DiscordTransport(settings, engine, SIGNER, ready_timeout=15)
    n = Notifier(engine, [dc], poll_interval=0.02, policy=Policy(_notify()))
    dc.on_decided, dc.notifier = n.proposal_decided, n
    await dc.start()
    try:
        pids = [engine.propose() for _ in range(8)]
        await n.start()
        assert await n.wait_idle(timeout=10)
        [msg] = [m for m in fake.in_channel() if "alerts #" in m.content]
        assert len(msg.components) == 5 and "3 more pending: /pending" in msg.content
        ids = msg.custom_ids()
        await fake.press(TRADER, msg.id, ids[f"Approve #{pids[0]}"])
        await fake.wait_for(lambda: msg.edits)
        assert msg.edits[-1].startswith("8 alerts #")
        assert engine.get_proposal(pids[0]).state == "executed"  # type: ignore[union-attr]
        assert f"Approve #{pids[0]}" not in msg.custom_ids()
    finally:
        await n.stop()
        await dc.stop()
        await fake.stop()


async def test_discord_answers_first_within_the_channel_bucket(tmp_path: Path) -> None:
    """Alerts paced by Discord's per-route bucket on channel messages (5 per 2 s here,
    announced in headers): a slash command's answer is an interaction response, another
    route, so it never waits behind them; no 429, alerts in order."""
    import time

    fake = FakeDiscord()
    fake.channel_bucket = (5, 2.0)
    await fake.start()
    settings = make_settings(tmp_path, discord={
        "token": fake.token, "api_base": fake.rest_base, "guild_id": fake.guild_id,
        "channel_id": fake.channel_id, "allowed_users": {str(TRADER): "trader"}})
    engine = FakeEngine(settings, propose_on_start=False)
    dc = DiscordTransport(settings, engine, SIGNER, ready_timeout=15)
    n = Notifier(engine, [dc], poll_interval=0.02,
                 policy=Policy(_notify(digest_window_seconds=0, queue_max=1000)))
    await dc.start()
    try:
        for i in range(12):
            engine.alert("fill", {"symbol": "BTC/USDT", "side": "buy", "amount": "1",
                                  "price": str(100 + i), "fee": "0.1"})
        await n.start()
        await fake.wait_for(lambda: len(fake.in_channel()) >= 5)
        t0 = time.perf_counter()
        fi = await fake.slash(TRADER, "version")
        await fake.wait_for(lambda: fi.callbacks)
        assert time.perf_counter() - t0 < 1.0 and len(fake.in_channel()) < 12
        assert await n.wait_idle(timeout=15)
        prices = [m.content.split("@ ")[1].split(".")[0] for m in fake.in_channel()]
        assert prices == [str(100 + i) for i in range(12)] and fake.rejections_429 == 0
    finally:
        await n.stop()
        await dc.stop()
        await fake.stop()
