"""/notify changes alert modes from the chat (stored, applied at once, kept across a
restart), and Discord alerts by DM to the users who ask: end to end over the real
python-telegram-bot / discord.py clients and the loopback fakes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.digest import Policy
from bot.discord_bot import DiscordTransport
from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner, derive_key
from commands.notify import NotifyCmd
from engine.storage.config import NotifySettings
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

TRADER, ADMIN, VIEWER = 111, 333, 222
SIGNER = CallbackSigner(derive_key(b"n" * 32))
FILL: dict[str, object] = {"symbol": "BTC/USDT", "side": "buy", "amount": "1", "price": "65000", "fee": "0.1"}


def _tg(tmp: Path, fake: FakeTelegram) -> tuple[FakeEngine, TelegramTransport, Notifier]:
    settings = make_settings(tmp, telegram={
        "token": fake.token, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader", str(ADMIN): "admin"}})
    engine = FakeEngine(settings, propose_on_start=False)
    t = TelegramTransport(settings, engine, SIGNER, poll_timeout=1,
                          rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    n = Notifier(engine, [t], poll_interval=0.02, backoff_base=0.05,
                 policy=Policy(NotifySettings(digest_window_seconds=0)))
    t.on_decided, t.notifier = n.proposal_decided, n
    return engine, t, n


async def _said(fake: FakeTelegram, chat: int, n: int) -> list[str]:
    await fake.wait_for(lambda: len(fake.sent_to(chat)) >= n)
    return [m.text for m in fake.sent_to(chat)]


async def test_notify_off_from_the_chat_applies_at_once_and_survives_restart(
        tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    engine, tg, n = _tg(tmp_path, fake)
    await tg.start()
    await n.start()
    try:
        await fake.push_text(TRADER, "/notify fill off")
        said = await _said(fake, TRADER, 1)
        assert said[-1] == "telegram:111: fill off (kept across restarts)."
        engine.alert("fill", FILL)  # planned after the change: skipped
        engine.alert("breaker_cleared", {"rule": "daily_loss"})
        await _said(fake, TRADER, 2)
        assert await n.wait_idle(timeout=5)
        texts = [m.text for m in fake.sent_to(TRADER)]
        assert not any("Filled" in t for t in texts), texts
        assert any("Circuit breaker cleared" in t for t in texts)
        await fake.push_text(TRADER, "/notify")
        shown = (await _said(fake, TRADER, len(texts) + 1))[-1]
        assert "  fill: off (set here)" in shown and "  proposal: on" in shown
        # the admin's chat still gets fills: the mode is this chat's only
        await fake.wait_for(lambda: any("Filled" in m.text for m in fake.sent_to(ADMIN)))
    finally:
        await n.stop()
        await tg.stop()
    # a restart: new transport and notifier over the same database
    before = len(fake.sent_to(TRADER))
    engine2, tg2, n2 = _tg(tmp_path, fake)
    await tg2.start()
    await n2.start()
    try:
        engine2.alert("fill", FILL)
        assert await n2.wait_idle(timeout=5)
        assert len(fake.sent_to(TRADER)) == before  # still off
        assert n2.policy.mode("telegram:111", "fill") == "off"
        await fake.push_text(TRADER, "/notify all on")
        await _said(fake, TRADER, before + 1)
        engine2.alert("fill", FILL)
        await fake.wait_for(lambda: fake.sent_to(TRADER)[-1].text.startswith("Filled"))
    finally:
        await n2.stop()
        await tg2.stop()
        await fake.stop()


async def test_pending_alerts_turned_off_are_not_sent(tmp_path: Path) -> None:
    """An alert planned before `/notify ... off` (queued behind others) is skipped."""
    settings = make_settings(tmp_path)
    engine = FakeEngine(settings, propose_on_start=False)

    class Sink:
        transport, ready = "console", True

        def __init__(self) -> None:
            self.sent: list[str] = []

        def destinations(self):
            from bot.planner import Destination
            return [Destination("console", "console", ("console", "local"), admin=True)]

        async def send(self, dest, reply, silent=False):
            self.sent.append(reply.text)
            return str(len(self.sent))

        async def edit(self, dest, ref, reply):
            return None

    sink = Sink()
    n = Notifier(engine, [sink], policy=Policy(NotifySettings(digest_window_seconds=0)))
    engine.alert("fill", FILL)
    engine.alert("error", {"text": "boom"})
    n.plan()  # both pending now
    ctx = Ctx(api=engine, user=Identity("console", "local", "console", "admin"),
              chat_id="console")
    assert (await NotifyCmd().handle(ctx, ["fill", "off"])).ok
    await n.run_once()
    assert sink.sent == ["Error: boom"]


async def test_shared_chat_needs_an_admin_and_bad_input_changes_nothing(
        tmp_path: Path) -> None:
    engine = FakeEngine(make_settings(tmp_path))
    group = Ctx(api=engine, user=Identity("telegram", "111", "alice", "trader"),
                chat_id="-100")
    r = await NotifyCmd().handle(group, ["fill", "off"])
    assert not r.ok and r.text == "telegram:-100 is a shared chat: only an admin changes its alerts."
    for bad in (["fill"], ["nope", "on"], ["fill", "loud"], ["dm", "maybe"]):
        assert not (await NotifyCmd().handle(group, bad)).ok
    admin = Ctx(api=engine, user=Identity("telegram", "333", "root", "admin"), chat_id="-100")
    assert (await NotifyCmd().handle(admin, ["all", "digest"])).ok
    assert (await NotifyCmd().handle(admin, ["proposal", "on"])).ok
    p = Policy(NotifySettings())
    from commands.notify import load_overrides
    p.overrides = load_overrides(engine.sessions)
    assert p.mode("telegram:-100", "fill") == "digest"
    assert p.mode("telegram:-100", "proposal") == "on"
    assert p.mode("telegram:111", "fill") == "on"
    r = await NotifyCmd().handle(admin, ["reset"])
    assert r.ok and "2 mode(s) forgotten" in r.text


async def test_discord_alerts_by_dm_to_users_who_ask(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    settings = make_settings(tmp_path, discord={
        "token": fake.token, "api_base": fake.rest_base, "guild_id": fake.guild_id,
        "channel_id": fake.channel_id,
        "allowed_users": {str(TRADER): "trader", str(VIEWER): "viewer"}})
    engine = FakeEngine(settings, propose_on_start=False)
    dc = DiscordTransport(settings, engine, SIGNER, defer_after=1.0, ready_timeout=15)
    n = Notifier(engine, [dc], poll_interval=0.02, backoff_base=0.05,
                 policy=Policy(NotifySettings(digest_window_seconds=0)))
    dc.on_decided, dc.notifier = n.proposal_decided, n
    await dc.start()
    await n.start()
    try:
        engine.alert("fill", FILL)  # before anyone asked: channel only
        await fake.wait_for(lambda: len(fake.in_channel()) == 1)
        fi = await fake.slash(TRADER, "notify", {"setting": "dm on"})
        await fake.wait_for(lambda: fake.texts(fi))
        assert fake.texts(fi)[0].startswith("Alerts by direct message: on")
        await asyncio.sleep(0.1)
        pid = engine.propose()
        await fake.wait_for(lambda: len(fake.dms_to(TRADER)) == 1)
        [dm] = fake.dms_to(TRADER)
        assert f"Proposal #{pid}" in dm.content and dm.custom_ids()  # decidable from the DM
        assert not fake.dms_to(VIEWER)
        # their /notify now changes their DM, not the shared channel
        fi2 = await fake.slash(TRADER, "notify", {"setting": "fill off"})
        await fake.wait_for(lambda: fake.texts(fi2))
        assert fake.texts(fi2)[0].startswith(f"discord:dm:{TRADER}: fill off")
        engine.alert("fill", FILL)
        await fake.wait_for(lambda: len(fake.in_channel()) == 3)
        assert await n.wait_idle(timeout=5)
        assert len(fake.dms_to(TRADER)) == 1  # the fill went to the channel only
        # pressing Approve in the DM decides the proposal
        await fake.press(TRADER, dm.id, dm.custom_ids()["Approve"])
        await fake.wait_for(lambda: pid in engine.placed)
        fi3 = await fake.slash(TRADER, "notify", {"setting": "dm off"})
        await fake.wait_for(lambda: fake.texts(fi3))
        await asyncio.sleep(0.1)
        engine.propose()
        await fake.wait_for(lambda: len(fake.in_channel()) == 4)
        assert await n.wait_idle(timeout=5)
        assert len(fake.dms_to(TRADER)) == 1
    finally:
        await n.stop()
        await dc.stop()
        await fake.stop()
