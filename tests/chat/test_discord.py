"""End to end over the real discord.py client and the fake Discord REST + gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord_bot import SLASH_OPTIONS, DiscordTransport
from bot.notifier import Notifier
from commands import COMMANDS
from commands.callbacks import CallbackSigner, derive_key
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord, FakeInteraction, FakeMessage

TRADER, VIEWER, STRANGER = 111, 222, 555
REFUSAL = "Sorry, this is a private bot."


@dataclass
class World:
    fake: FakeDiscord
    engine: FakeEngine
    dc: DiscordTransport
    notifier: Notifier
    signer: CallbackSigner
    tmp: Path


def _settings(tmp: Path, fake: FakeDiscord, **over: object) -> object:
    return make_settings(tmp, discord={
        "token": fake.token, "api_base": fake.rest_base, "guild_id": fake.guild_id,
        "channel_id": fake.channel_id,
        "allowed_users": {str(TRADER): "trader", str(VIEWER): "viewer"}, **over})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeDiscord()
    await fake.start()
    settings = _settings(tmp_path, fake)
    engine = FakeEngine(settings)  # type: ignore[arg-type]
    signer = CallbackSigner(derive_key(b"d" * 32))
    dc = DiscordTransport(settings, engine, signer, defer_after=1.0,  # type: ignore[arg-type]
                          ready_timeout=15)
    notifier = Notifier(engine, [dc], poll_interval=0.02, backoff_base=0.05, backoff_cap=0.2)
    dc.on_decided = notifier.proposal_decided
    await dc.start()
    await notifier.start()
    try:
        yield World(fake, engine, dc, notifier, signer, tmp_path)
    finally:
        await notifier.stop()
        await dc.stop()
        await fake.stop()


def _proposal(fake: FakeDiscord) -> FakeMessage | None:
    return next((m for m in fake.in_channel() if "Proposal #" in m.content and m.components),
                None)


async def _answer(fake: FakeDiscord, fi: FakeInteraction) -> list[str]:
    """The texts shown to the user for interaction `fi` (after a deferral: the edit)."""
    await fake.wait_for(lambda: fi.callbacks and all(
        not (m.flags & 128) for m in fake.responses(fi)) and fake.responses(fi))
    return fake.texts(fi)


# ------------------------------------------------------------------ wiring
def test_every_command_with_arguments_has_slash_options() -> None:
    with_usage = {c.name for c in COMMANDS.values() if c.usage}
    assert set(SLASH_OPTIONS) == with_usage
    for name, opts in SLASH_OPTIONS.items():
        assert len({o.name for o in opts}) == len(opts), name
        assert all(o.description and len(o.choices) <= 25 for o in opts), name


async def test_commands_registered_to_guild_and_status(world: World) -> None:
    fake = world.fake
    guild_cmds = {c["name"]: c for c in fake.commands[f"guild:{fake.guild_id}"]}
    assert set(guild_cmds) == set(COMMANDS)
    bt = {o["name"]: o for o in guild_cmds["backtest"]["options"]}
    assert list(bt) == ["pair", "timeframe", "duration", "strategy"]
    assert all(o["required"] for o in bt.values())
    assert {"name": "5m", "value": "5m"} in bt["timeframe"]["choices"]
    # the client asked for zlib-stream; the fake answers in text frames and it copes
    assert fake.gateway_queries[0]["compress"] == "zlib-stream"
    assert fake.identifies[0]["intents"] == 1  # guilds only: no privileged intents
    fi = await fake.slash(VIEWER, "status", name="bob")
    texts = await _answer(fake, fi)
    assert fi.callbacks[0]["type"] == 4 and fi.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert "Mode: paper" in texts[0]


async def test_options_become_arguments(world: World) -> None:
    fi = await world.fake.slash(TRADER, "trades", {"n": "500"})
    texts = await _answer(world.fake, fi)
    assert texts[0].startswith("usage: /trades [n]")
    fi = await world.fake.slash(TRADER, "alerts", {"setting": "fill  proposal"})
    texts = await _answer(world.fake, fi)
    assert texts[0] == "Alerts on: fill, proposal"


async def test_start_bot_to_fill_alert(world: World) -> None:
    fake = world.fake
    fi = await fake.slash(TRADER, "start_bot")
    assert "Started main" in (await _answer(fake, fi))[0]
    msg = await fake.wait_for(lambda: _proposal(fake))
    ids = msg.custom_ids()
    assert list(ids) == ["Approve", "Reject", "Details"]
    assert world.signer.verify(ids["Approve"]).action == "approve"
    assert not msg.ephemeral
    press = await fake.press(TRADER, msg.id, ids["Approve"])
    await fake.wait_for(lambda: msg.edits)
    assert press.callbacks[0]["type"] == 7  # the pressed message is updated in place
    assert "Approved by alice" in msg.edits[-1]
    assert "filled 0.01 @ 65,000.0000" in msg.edits[-1]
    assert msg.components == []  # buttons gone
    assert len(world.engine.placed) == 1 and f"#{world.engine.placed[0]}:" in msg.content
    fill = await fake.wait_for(lambda: next(
        (m for m in fake.in_channel() if m.content.startswith("Filled: BUY 0.01 BTC/USDT")),
        None))
    assert fill.id > msg.id  # order kept: proposal before fill


async def test_unauthorised_user_gets_short_refusal(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sentitrade.auth")
    fake = world.fake
    fi = await fake.slash(STRANGER, "status", name="mallory")
    assert await _answer(fake, fi) == [REFUSAL]
    assert fi.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert any(str(STRANGER) in r.getMessage() for r in caplog.records)
    world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    p = await fake.press(STRANGER, msg.id, msg.custom_ids()["Approve"], name="mallory")
    assert await _answer(fake, p) == [REFUSAL]
    assert world.engine.placed == [] and msg.edits == []


async def test_forged_custom_ids_refused(world: World) -> None:
    fake = world.fake
    pid = world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    good = msg.custom_ids()["Approve"]
    forged = [good.replace(f"|{pid}|", f"|{pid + 1}|"),
              CallbackSigner(derive_key(b"z" * 32)).sign("approve", pid), "p|a|1", "x" * 64]
    for data in forged:
        for crafted in (False, True):  # not on the message / on a crafted message
            fi = await fake.press(TRADER, msg.id, data, crafted=crafted)
            assert await _answer(fake, fi) == ["This button is no longer valid."], data
            assert fake.responses(fi)[0].ephemeral
    assert world.engine.placed == [] and msg.edits == []


async def test_stale_button_refused(world: World) -> None:
    fake = world.fake
    pid = world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    old = CallbackSigner(derive_key(b"d" * 32), clock=lambda: 1_000_000.0).sign("approve", pid)
    fi = await fake.press(TRADER, msg.id, old, crafted=True)
    assert await _answer(fake, fi) == ["This button is no longer valid."]
    assert world.engine.placed == []


async def test_double_tap_places_one_order(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    data = msg.custom_ids()["Approve"]
    a = await fake.press(TRADER, msg.id, data)
    b = await fake.press(TRADER, msg.id, data)
    await fake.wait_for(lambda: a.callbacks and b.callbacks)
    assert len(world.engine.placed) == 1
    types = sorted([a.callbacks[0]["type"], b.callbacks[0]["type"]])
    assert types == [4, 7]  # one edit with the decision, one ephemeral "already"
    second = a if a.callbacks[0]["type"] == 4 else b
    assert fake.texts(second) == ["Already executed by discord:111."]
    assert len(msg.edits) == 1 and "Approved by alice" in msg.edits[-1]


async def test_expired_proposal(world: World) -> None:
    fake = world.fake
    world.engine.propose(expires_in=0.2)
    msg = await fake.wait_for(lambda: _proposal(fake))
    await asyncio.sleep(0.3)
    fi = await fake.press(TRADER, msg.id, msg.custom_ids()["Approve"])
    await fake.wait_for(lambda: fi.followups)
    assert fake.texts(fi) == ["Already expired."]
    assert "state: expired" in msg.edits[-1] and msg.components == []
    assert world.engine.placed == []


async def test_viewer_cannot_decide_but_sees_details(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    fi = await fake.press(VIEWER, msg.id, msg.custom_ids()["Approve"], name="bob")
    assert await _answer(fake, fi) == ["Deciding needs the trader role."]
    fi = await fake.press(VIEWER, msg.id, msg.custom_ids()["Details"], name="bob")
    assert "why: ema cross" in (await _answer(fake, fi))[0]
    assert world.engine.placed == [] and msg.edits == []


async def test_pending_copy_decision_edits_channel_alert(world: World) -> None:
    fake = world.fake
    world.engine.propose()
    alert = await fake.wait_for(lambda: _proposal(fake))
    fi = await fake.slash(TRADER, "pending")
    await _answer(fake, fi)
    copy = fake.responses(fi)[0]
    assert copy.ephemeral and "Reject" in copy.custom_ids()
    await fake.press(TRADER, copy.id, copy.custom_ids()["Reject"])
    await fake.wait_for(lambda: copy.edits and alert.edits)
    assert "Rejected by alice" in copy.edits[-1] and "Rejected by alice" in alert.edits[-1]
    assert alert.components == []


async def test_backtest_uploads_report_and_csv(world: World) -> None:
    fake = world.fake
    fi = await fake.slash(TRADER, "backtest", {"pair": "BTC/USDT", "timeframe": "5m",
                                               "duration": "30d",
                                               "strategy": "ema_rsi_cross"})
    texts = await _answer(fake, fi)
    assert fi.callbacks[0] == {"type": 5, "data": {"flags": EPHEMERAL}}  # "thinking..."
    assert texts[0].startswith("Backtest BTC/USDT 5m 30d")
    files = dict(fake.responses(fi)[0].files)
    assert set(files) == {"report.png", "trades.csv"}
    assert files["report.png"].startswith(b"\x89PNG") and files["trades.csv"].startswith(
        b"pair,profit")
    fi = await fake.slash(TRADER, "backtest", {"pair": "BTC/USDT", "timeframe": "5m",
                                               "duration": "30x",
                                               "strategy": "ema_rsi_cross"})
    assert (await _answer(fake, fi))[0].startswith("usage: /backtest")


async def test_slow_command_is_deferred(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    orig = world.engine.balances

    async def slow() -> object:
        await asyncio.sleep(1.5)  # past defer_after (1 s here, 2 s by default)
        return await orig()

    monkeypatch.setattr(world.engine, "balances", slow)
    fi = await world.fake.slash(TRADER, "balance")
    texts = await _answer(world.fake, fi)
    assert fi.callbacks[0]["type"] == 5 and "USDT" in texts[0]


async def test_alert_survives_rate_limit(world: World) -> None:
    fake = world.fake
    fake.rate_limit_next = 2
    world.engine.alert("breaker_tripped", {"rule": "daily_loss", "measured": "-5%",
                                           "threshold": "-4%", "action": "halt"})
    m = await fake.wait_for(lambda: next((m for m in fake.in_channel()
                                          if m.content.startswith("Circuit breaker")), None))
    assert "daily\\_loss" in m.content and fake.rate_limit_next == 0
    assert sum(x.content.startswith("Circuit breaker") for x in fake.in_channel()) == 1


async def test_buttons_work_after_restart(world: World) -> None:
    """No per-message view state: a new process verifies the old message's buttons."""
    fake = world.fake
    world.engine.propose()
    msg = await fake.wait_for(lambda: _proposal(fake))
    await world.notifier.stop()
    await world.dc.stop()
    dc2 = DiscordTransport(world.dc.settings, world.engine, world.signer, ready_timeout=15)
    await dc2.start()
    try:
        await fake.press(TRADER, msg.id, msg.custom_ids()["Approve"])
        await fake.wait_for(lambda: msg.edits)
        assert "Approved by alice" in msg.edits[-1] and len(world.engine.placed) == 1
    finally:
        await dc2.stop()


async def test_bad_token_fails_start_and_restores_globals(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    import discord

    caplog.set_level(logging.DEBUG)
    fake = FakeDiscord()
    await fake.start()
    base, gw = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        settings = _settings(tmp_path, fake, token="wrong.token.value")
        dc = DiscordTransport(settings, FakeEngine(settings),  # type: ignore[arg-type]
                              CallbackSigner(derive_key(b"d" * 32)))
        with pytest.raises(discord.LoginFailure):
            await dc.start()
        assert (base, gw) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        assert not any("wrong.token.value" in r.getMessage() for r in caplog.records)
    finally:
        await fake.stop()


async def test_token_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeDiscord(token="secret-token-XYZ")
    await fake.start()
    settings = _settings(tmp_path, fake)
    engine = FakeEngine(settings)  # type: ignore[arg-type]
    dc = DiscordTransport(settings, engine, CallbackSigner(derive_key(b"d" * 32)),  # type: ignore[arg-type]
                          ready_timeout=15)
    await dc.start()
    try:
        fi = await fake.slash(TRADER, "version")
        await _answer(fake, fi)
        assert fake.rest_base == Route.BASE
    finally:
        await dc.stop()
        await fake.stop()
    assert Route.BASE == "https://discord.com/api/v10"
    assert caplog.records and not any("secret-token-XYZ" in r.getMessage()
                                      for r in caplog.records)


async def test_real_engine_approve_over_discord(tmp_path: Path) -> None:
    """The same flow against engine.service.engine.Engine (paper broker) instead of the fake."""
    from decimal import Decimal

    from engine.execution.paper import Quote
    from engine.service.engine import Engine
    from engine.storage.config import Settings
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade
    from tests.chat.test_real_engine import _propose

    fake = FakeDiscord()
    await fake.start()
    url = f"sqlite:///{tmp_path / 'real.db'}"
    upgrade(url)
    settings = Settings.model_validate({
        "database": {"url": url}, "exchange": {"mode": "paper", "slippage_bps": 0},
        "bots": [{"name": "main", "symbols": ["BTC/USDT"]}],
        "discord": {"token": fake.token, "api_base": fake.rest_base,
                    "guild_id": fake.guild_id, "channel_id": fake.channel_id,
                    "allowed_users": {str(TRADER): "trader"}}})
    eng = Engine(settings, SessionFactory(make_engine(url)))
    await eng.start()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    dc = DiscordTransport(settings, eng, CallbackSigner(derive_key(b"r" * 32)),
                          ready_timeout=15)
    notifier = Notifier(eng, [dc], poll_interval=0.02)
    dc.on_decided = notifier.proposal_decided
    await dc.start()
    await notifier.start()
    try:
        fi = await fake.slash(TRADER, "start_bot", {"name": "main"})
        assert "Started main: running" in (await _answer(fake, fi))[0]
        pid = _propose(eng)
        msg = await fake.wait_for(lambda: _proposal(fake))
        a = await fake.press(TRADER, msg.id, msg.custom_ids()["Approve"])
        b = await fake.press(TRADER, msg.id, msg.custom_ids()["Approve"])
        await fake.wait_for(lambda: a.callbacks and b.callbacks)
        assert "Approved by alice" in msg.edits[-1] and len(msg.edits) == 1
        assert "filled 0.01 @ 60,000.0000" in msg.edits[-1]
        await fake.wait_for(lambda: any(m.content.startswith("Filled: BUY 0.01 BTC/USDT @ 60,000")
                                        for m in fake.in_channel()))
        assert eng.get_proposal(pid).state == "executed"  # type: ignore[union-attr]
        assert len(eng.open_trades()) == 1
    finally:
        await notifier.stop()
        await dc.stop()
        await eng.close()
        await fake.stop()


async def test_build_wires_discord_with_the_notifier(tmp_path: Path) -> None:
    """transports.build picks Discord up from the settings; its alerts and decisions go
    through the shared notifier."""
    from bot.transports import build

    fake = FakeDiscord()
    await fake.start()
    settings = _settings(tmp_path, fake)
    engine = FakeEngine(settings)  # type: ignore[arg-type]
    services = build(settings, engine, console=False)  # type: ignore[arg-type]
    [dc] = [s for s in services.sinks if isinstance(s, DiscordTransport)]
    assert dc.on_decided == services.notifier.proposal_decided
    await services.start()
    try:
        engine.propose()
        msg = await fake.wait_for(lambda: _proposal(fake))
        await fake.press(TRADER, msg.id, msg.custom_ids()["Approve"])
        await fake.wait_for(lambda: msg.edits)
        assert "Approved by alice" in msg.edits[-1]
    finally:
        await services.stop()
        await fake.stop()
