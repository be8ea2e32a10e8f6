"""End to end over the real python-telegram-bot Application and the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.digest import Policy
from bot.flood import FloodLimiter, Lanes, Limit, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.callbacks import CallbackSigner, derive_key
from engine.storage.config import NotifySettings
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.telegram_server import FakeTelegram, Limits

TRADER, VIEWER, STRANGER = 111, 222, 555


@dataclass
class World:
    fake: FakeTelegram
    engine: FakeEngine
    tg: TelegramTransport
    notifier: Notifier
    signer: CallbackSigner


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url, "base_file_url": fake.base_file_url,
        "allowed_users": {str(TRADER): "trader", str(VIEWER): "viewer"}})
    engine = FakeEngine(settings)
    signer = CallbackSigner(derive_key(b"t" * 32))
    tg = TelegramTransport(settings, engine, signer, poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    notifier = Notifier(engine, [tg], poll_interval=0.02, backoff_base=0.05, backoff_cap=0.2)
    tg.on_decided = notifier.proposal_decided
    await tg.start()
    await notifier.start()
    try:
        yield World(fake, engine, tg, notifier, signer)
    finally:
        await notifier.stop()
        await tg.stop()
        await fake.stop()


def _texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat)]


def _proposal_msg(fake: FakeTelegram, chat: int) -> int:
    for m in fake.sent_to(chat):
        if m.reply_markup and "Proposal #" in m.text:
            return m.message_id
    return 0


def _button(fake: FakeTelegram, mid: int, label: str) -> str:
    row = fake.messages[mid].reply_markup["inline_keyboard"][0]
    return str(next(b["callback_data"] for b in row if b["text"] == label))


async def test_commands_registered_and_status(world: World) -> None:
    names = {c["command"] for c in world.fake.commands}
    assert {"status", "approve", "backtest", "forceexit"} <= names
    await world.fake.push_text(VIEWER, "/status")
    await world.fake.wait_for(lambda: any("Mode: paper" in t for t in _texts(world.fake, VIEWER)))


async def test_start_bot_to_fill_alert(world: World) -> None:
    fake = world.fake
    await fake.push_text(TRADER, "/start_bot")
    await fake.wait_for(lambda: any("Started main" in t for t in _texts(fake, TRADER)))
    mid = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    labels = [b["text"] for b in fake.messages[mid].reply_markup["inline_keyboard"][0]]
    assert labels == ["Approve", "Reject", "Details"]
    data = _button(fake, mid, "Approve")
    assert len(data.encode()) <= 64
    cq = await fake.push_press(TRADER, mid, data)
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert fake.answer_for(cq)["text"] == "Approved."  # type: ignore[index]
    await fake.wait_for(lambda: fake.messages[mid].edits)
    edited = fake.messages[mid].edits[-1]
    assert "Approved by alice" in edited and "filled 0.01 @ 65,000.0000" in edited
    assert fake.messages[mid].reply_markup is None  # buttons gone
    assert len(world.engine.placed) == 1
    await fake.wait_for(lambda: any(t.startswith("Filled: BUY 0.01 BTC/USDT")
                                    for t in _texts(fake, TRADER)))
    # order kept: proposal before fill
    texts = _texts(fake, TRADER)
    assert next(i for i, t in enumerate(texts) if "Proposal #" in t) < next(
        i for i, t in enumerate(texts) if t.startswith("Filled"))


async def test_unauthorised_user_gets_one_short_refusal(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sentitrade.auth")
    await world.fake.push_text(STRANGER, "/status")
    await world.fake.push_text(STRANGER, "/balance")
    await world.fake.push_text(TRADER, "/version")
    await world.fake.wait_for(lambda: _texts(world.fake, TRADER))
    assert _texts(world.fake, STRANGER) == ["Sorry, this is a private bot."]
    assert any(str(STRANGER) in r.getMessage() for r in caplog.records)


async def test_group_only_listed_users_act(world: World) -> None:
    group = -1001
    await world.fake.push_text(STRANGER, "/status", chat_id=group)
    await world.fake.push_text(TRADER, "/version", chat_id=group)
    await world.fake.wait_for(lambda: any("sentitrade" in t for t in _texts(world.fake, group)))
    assert not any("Mode:" in t for t in _texts(world.fake, group))


async def test_forged_callback_refused(world: World) -> None:
    fake = world.fake
    pid = world.engine.propose()
    mid = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    good = _button(fake, mid, "Approve")
    forged = [good.replace(f"|{pid}|", f"|{pid + 1}|"),
              CallbackSigner(derive_key(b"z" * 32)).sign("approve", pid), "p|a|1", "x" * 64]
    for data in forged:
        cq = await fake.push_press(TRADER, mid, data)
        await fake.wait_for(lambda cq=cq: fake.answer_for(cq))
        assert fake.answer_for(cq)["text"] == "This button is no longer valid."  # type: ignore
    assert world.engine.placed == []


async def test_stale_callback_refused(world: World) -> None:
    fake = world.fake
    pid = world.engine.propose()
    mid = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    old = CallbackSigner(derive_key(b"t" * 32), clock=lambda: 1_000_000.0).sign("approve", pid)
    cq = await fake.push_press(TRADER, mid, old)
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert "no longer valid" in fake.answer_for(cq)["text"]  # type: ignore[index]
    assert world.engine.placed == []


async def test_double_tap_places_one_order(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    mid = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    data = _button(fake, mid, "Approve")
    a = await fake.push_press(TRADER, mid, data)
    b = await fake.push_press(TRADER, mid, data)
    await fake.wait_for(lambda: fake.answer_for(a) and fake.answer_for(b))
    answers = sorted([fake.answer_for(a)["text"], fake.answer_for(b)["text"]])  # type: ignore
    assert answers[0] == "Already executed by telegram:111." and answers[1] == "Approved."
    assert len(world.engine.placed) == 1


async def test_expired_proposal(world: World) -> None:
    fake = world.fake
    world.engine.propose(expires_in=0.2)
    mid = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    import asyncio

    await asyncio.sleep(0.3)
    cq = await fake.push_press(TRADER, mid, _button(fake, mid, "Approve"))
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert fake.answer_for(cq)["text"] == "Already expired."  # type: ignore[index]
    assert world.engine.placed == []
    await fake.wait_for(lambda: fake.messages[mid].edits)
    assert "state: expired" in fake.messages[mid].edits[-1]


async def test_viewer_cannot_press_and_details(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    mid = await fake.wait_for(lambda: _proposal_msg(fake, VIEWER))
    cq = await fake.push_press(VIEWER, mid, _button(fake, mid, "Approve"), name="bob")
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert "trader role" in fake.answer_for(cq)["text"]  # type: ignore[index]
    cq = await fake.push_press(VIEWER, mid, _button(fake, mid, "Details"), name="bob")
    await fake.wait_for(lambda: fake.answer_for(cq))
    await fake.wait_for(lambda: sum("why: ema cross" in t for t in _texts(fake, VIEWER)) >= 2)
    assert world.engine.placed == []


async def test_decision_edits_every_copy(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    mid_t = await fake.wait_for(lambda: _proposal_msg(fake, TRADER))
    mid_v = await fake.wait_for(lambda: _proposal_msg(fake, VIEWER))
    await fake.push_press(TRADER, mid_t, _button(fake, mid_t, "Reject"))
    await fake.wait_for(lambda: fake.messages[mid_v].edits)
    assert "Rejected by alice" in fake.messages[mid_v].edits[-1]


async def test_backtest_sends_summary_photo_and_csv(world: World) -> None:
    fake = world.fake
    await fake.push_text(TRADER, "/backtest BTC/USDT 5m 30d ema_rsi_cross")
    await fake.wait_for(lambda: any(m.method == "sendDocument" for m in fake.sent_to(TRADER)))
    methods = [(m.method, m.filename) for m in fake.sent_to(TRADER)]
    assert methods[0][0] == "sendMessage" and "Working on /backtest" in fake.sent_to(TRADER)[0].text
    assert ("sendPhoto", "report.png") in methods and ("sendDocument", "trades.csv") in methods
    doc = next(m for m in fake.sent_to(TRADER) if m.method == "sendDocument")
    assert doc.file_bytes.startswith(b"pair,profit")
    await fake.push_text(TRADER, "/backtest BTC/USDT 5m 30x ema_rsi_cross")
    await fake.wait_for(lambda: any(t.startswith("usage: /backtest")
                                    for t in _texts(fake, TRADER)))


# ------------------------------------------------------------------ flood and outage
async def _flood_world(tmp_path: Path, limits: Limits,
                       limiter: FloodLimiter) -> tuple[FakeTelegram, FakeEngine,
                                                       TelegramTransport, Notifier]:
    fake = FakeTelegram(limits=limits)
    await fake.start()
    settings = make_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader"}, "chat_ids": [TRADER, -2002]})
    engine = FakeEngine(settings)
    tg = TelegramTransport(settings, engine, CallbackSigner(derive_key(b"t" * 32)),
                           rate_limiter=limiter, poll_timeout=1)
    await tg.start()
    return fake, engine, tg, Notifier(engine, [tg], poll_interval=0.01, backoff_base=0.05,
                                      backoff_cap=0.3)


@pytest.mark.parametrize(("paced", "n", "k"), [(True, 40, 0.02), (False, 40, 0.02)],
                         ids=["client-paced", "unpaced-429s"])
async def test_burst_alerts_none_lost_in_order(tmp_path: Path, paced: bool, n: int,
                                               k: float) -> None:
    """Telegram's limits scaled down in time by 1/k, one message per alert (no digest
    window): paced = our production limiter (scaled the same), no 429 at all;
    unpaced = no client limiter, so the fake answers 429 and we must wait."""
    limits = Limits().scaled(k)
    limits.enabled = True
    limiter = FloodLimiter(telegram_lanes(scale=k) if paced else Lanes(
        Limit(10**6, 1.0), Limit(10**6, 1.0), Limit(10**6, 1.0)))
    fake, engine, tg, notifier = await _flood_world(tmp_path, limits, limiter)
    notifier.policy = Policy(NotifySettings(digest_window_seconds=0, queue_max=10_000))
    try:
        for i in range(n):
            engine.alert("fill", {"symbol": "BTC/USDT", "side": "sell", "amount": "1",
                                  "price": str(60000 + i), "fee": "0.1"})
        await notifier.start()
        assert await notifier.wait_idle(timeout=60)
        for chat in (TRADER, -2002):
            got = [int(t.split("@ ")[1].split(".")[0].replace(",", ""))
                   for t in _texts(fake, chat)]
            assert got == list(range(60000, 60000 + n)), chat
        assert fake.violations == 0  # retry_after always honoured
        if paced:
            assert fake.rejections_429 == 0
        else:
            assert fake.rejections_429 > 0 and notifier.stats.flood_waits > 0
    finally:
        await notifier.stop()
        await tg.stop()
        await fake.stop()


async def test_reply_first_while_alerts_queued(tmp_path: Path) -> None:
    """500 alerts queued for a chat, one message each: /status still answers at once
    (the reply lane), and the alerts keep flowing in order with no 429."""
    import time

    k = 0.3
    limits = Limits().scaled(k)
    limits.enabled = True
    fake, engine, tg, notifier = await _flood_world(tmp_path, limits,
                                                    FloodLimiter(telegram_lanes(scale=k)))
    notifier.policy = Policy(NotifySettings(digest_window_seconds=0, queue_max=10_000))
    try:
        for i in range(500):
            engine.alert("fill", {"symbol": "BTC/USDT", "side": "sell", "amount": "1",
                                  "price": str(60000 + i), "fee": "0.1"})
        await notifier.start()
        await fake.wait_for(lambda: len(fake.sent_to(TRADER)) >= 3)
        waits = []
        for _ in range(5):
            n = len([m for m in fake.sent_to(TRADER) if "Mode:" in m.text])
            t0 = time.perf_counter()
            await fake.push_text(TRADER, "/status")
            await fake.wait_for(lambda n=n: len([m for m in fake.sent_to(TRADER)
                                                  if "Mode:" in m.text]) > n)
            waits.append(time.perf_counter() - t0)
            await asyncio.sleep(3.3 * k)  # a person's pace, in the scaled time
        assert max(waits) < 0.5, waits  # an alert slot is 1 s here: never waited for
        assert notifier.pending() > 400  # the alerts were still queued meanwhile
        got = [int(t.split("@ ")[1].split(".")[0].replace(",", ""))
               for t in _texts(fake, TRADER) if t.startswith("Filled")]
        assert got == list(range(60000, 60000 + len(got))) and fake.rejections_429 == 0
    finally:
        await notifier.stop()
        await tg.stop()
        await fake.stop()


async def test_outage_then_recovery_delivers_everything(tmp_path: Path) -> None:
    import asyncio

    fake, engine, tg, notifier = await _flood_world(
        tmp_path, Limits(enabled=False), FloodLimiter(telegram_lanes(scale=0.01)))
    try:
        await notifier.start()
        fake.down = True
        for i in range(20):
            engine.alert("breaker_tripped" if i == 0 else "fill",
                         {"rule": "daily_loss", "symbol": "ETH/USDT", "price": str(i)})
        await asyncio.sleep(1.0)
        assert _texts(fake, TRADER) == [] and notifier.stats.retries > 0
        assert notifier.pending() == 40
        fake.down = False
        assert await notifier.wait_idle(timeout=10)
        texts = _texts(fake, TRADER)
        assert len(texts) == 20 and texts[0].startswith("Circuit breaker tripped")
        assert [t.split("@ ")[1] for t in texts[1:]] == [f"{i}.0000, fee ?" for i in
                                                         range(1, 20)]
    finally:
        await notifier.stop()
        await tg.stop()
        await fake.stop()
