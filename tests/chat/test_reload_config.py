"""/reload_config (admin) end to end on a real engine, over Telegram and Discord: a bad
file changes nothing and says why in one line; a good one applies what can change at
runtime (approvals, risk, notify, allow-lists, bot parameters) and lists what needs a
restart; every call is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.discord_bot import DiscordTransport
from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.callbacks import CallbackSigner, derive_key
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.service.reload import plan
from engine.storage.config import Settings, load_settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import AuditEntry
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

ADMIN, TRADER, NEWCOMER = 333, 111, 444
SIGNER = CallbackSigner(derive_key(b"r" * 32))


def _toml(tmp: Path, fake: FakeTelegram, *, users: str, extra: str = "",
          max_open: int = 5, params: str = "fast = 12", slippage: int = 0) -> str:
    return f"""
[database]
url = "sqlite:///{tmp / 'reload.db'}"
[security]
key_file = "{tmp / 'master.key'}"
[exchange]
mode = "paper"
slippage_bps = {slippage}
[telegram]
token = "{fake.token}"
base_url = "{fake.base_url}"
allowed_users = {{ {users} }}
[risk]
max_open_trades = {max_open}
[[bots]]
name = "main"
strategy = "ema_rsi_cross"
symbols = ["BTC/USDT"]
[bots.params]
{params}
{extra}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    fake = FakeTelegram()
    await fake.start()
    cfg = tmp_path / "sentitrade.toml"
    cfg.write_text(_toml(tmp_path, fake, users=f'"{ADMIN}" = "admin", "{TRADER}" = "trader"'))
    settings = load_settings(cfg)
    upgrade(settings.database.url)
    eng = Engine(settings, SessionFactory(make_engine(settings.database.url)))
    eng.config_path = cfg  # type: ignore[attr-defined]  # as `run --config` sets it
    await eng.start()
    eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    tg = TelegramTransport(settings, eng, SIGNER, poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    n = Notifier(eng, [tg], poll_interval=0.02)
    await tg.start()
    await n.start()
    try:
        yield {"fake": fake, "eng": eng, "cfg": cfg, "tmp": tmp_path, "notifier": n}
    finally:
        await n.stop()
        await tg.stop()
        await eng.close()
        await fake.stop()


async def _ask(fake: FakeTelegram, uid: int, text: str) -> str:
    before = len(fake.sent_to(uid))
    await fake.push_text(uid, text)
    await fake.wait_for(lambda: len(fake.sent_to(uid)) > before)
    return fake.sent_to(uid)[-1].text


async def test_bad_file_changes_nothing(world: dict[str, Any]) -> None:
    fake, eng, cfg = world["fake"], world["eng"], world["cfg"]
    before = eng.settings
    good = cfg.read_text()
    cfg.write_text(good.replace("max_open_trades = 5", "max_open_trades = 0"))
    said = await _ask(fake, ADMIN, "/reload_config")
    assert said.startswith("Nothing changed: ") and "max_open_trades" in said
    assert "\n" not in said and eng.settings is before
    cfg.write_text(good.replace('strategy = "ema_rsi_cross"', 'strategy = "no_such_thing"'))
    said = await _ask(fake, ADMIN, "/reload_config")
    assert said.startswith("Nothing changed: bot main: ") and eng.settings is before
    cfg.write_text(good.replace("fast = 12", "nope = 1"))  # no such strategy parameter
    said = await _ask(fake, ADMIN, "/reload_config")
    assert said.startswith("Nothing changed: bot main: ") and eng.settings is before
    cfg.write_text("[risk\n")
    assert (await _ask(fake, ADMIN, "/reload_config")).startswith("Nothing changed: ")
    assert (await _ask(fake, TRADER, "/reload_config")) == "/reload_config needs the admin role."
    with eng.sessions() as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.action == "reload_config")).all()
    assert [r.outcome for r in rows] == ["refused"] * 4 + ["denied"]


async def test_good_file_applies_at_once_and_lists_restarts(world: dict[str, Any]) -> None:
    fake, eng, cfg, tmp = world["fake"], world["eng"], world["cfg"], world["tmp"]
    old_rt = eng.strategies.runtimes["main"]
    cfg.write_text(_toml(
        tmp, fake, users=f'"{ADMIN}" = "admin", "{TRADER}" = "trader", '
                         f'"{NEWCOMER}" = "viewer"',
        max_open=3, params="fast = 9", slippage=7,
        extra='[approvals]\nmode = "auto"\n[notify]\ntypes = { fill = "digest" }\n'))
    assert (await _ask(fake, NEWCOMER, "/status")) == "Sorry, this is a private bot."
    said = await _ask(fake, ADMIN, "/reload_config")
    assert said.startswith(f"Reloaded {cfg}.\nApplied now (")
    for line in ("  approvals.mode manual → auto", "  risk.max_open_trades 5 → 3",
                 "  notify.types.fill None → digest",
                 f"  telegram.allowed_users.{NEWCOMER} None → viewer",
                 "  bot main.params.fast 12 → 9",
                 "Need a restart, running values kept (1):",
                 "  exchange.slippage_bps 0.0 → 7.0"):
        assert line in said, said
    assert eng.settings.approvals.mode == "auto" and eng.settings.risk.max_open_trades == 3
    assert eng.monitor.lim.max_open_trades == 3
    assert eng.settings.exchange.slippage_bps == 0  # restart-only: running value kept
    assert eng.bots.get("main").approval_mode == "auto"
    rt = eng.strategies.runtimes["main"]
    assert rt is not old_rt and rt.strategy.fast == 9
    assert rt.buffers is old_rt.buffers  # the candles it had: no new warm-up
    # the notifier and the transport pick the new settings up on their next pass
    await fake.wait_for(lambda: world["notifier"].policy.cfg.types == {"fill": "digest"})
    assert (await _ask(fake, NEWCOMER, "/status")).startswith("Mode: paper")
    again = await _ask(fake, ADMIN, "/reload_config")  # applied: only the restart is left
    assert "Applied now" not in again and "  exchange.slippage_bps 0.0 → 7.0" in again


def test_plan_ignores_secrets_absent_from_the_file(tmp_path: Path) -> None:
    base = {"database": {"url": f"sqlite:///{tmp_path / 'x.db'}"}}
    running = Settings(**base, telegram={"token": "123:abc"})  # type: ignore[arg-type]
    from_file = Settings(**base)  # type: ignore[arg-type]
    new, res = plan(running, from_file)
    assert new is running and res.applied == [] and res.restart == []
    _, res = plan(running, Settings(**base, telegram={"token": "456:def"}))  # type: ignore[arg-type]
    assert res.restart == ["telegram.token changed"]


async def test_reload_config_over_discord(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    cfg = tmp_path / "dc.toml"
    body = (f'[database]\nurl = "sqlite:///{tmp_path / "dc.db"}"\n[security]\n'
            f'key_file = "{tmp_path / "master.key"}"\n[exchange]\nmode = "paper"\n'
            f'[discord]\ntoken = "{fake.token}"\napi_base = "{fake.rest_base}"\n'
            f'guild_id = {fake.guild_id}\nchannel_id = {fake.channel_id}\n'
            f'allowed_users = {{ "{ADMIN}" = "admin" }}\n'
            '[[bots]]\nname = "main"\nsymbols = ["BTC/USDT"]\n')
    cfg.write_text(body)
    settings = load_settings(cfg)
    upgrade(settings.database.url)
    eng = Engine(settings, SessionFactory(make_engine(settings.database.url)))
    eng.config_path = cfg  # type: ignore[attr-defined]
    await eng.start()
    dc = DiscordTransport(settings, eng, SIGNER, ready_timeout=15)
    n = Notifier(eng, [dc], poll_interval=0.02)
    await dc.start()
    await n.start()
    try:
        fi = await fake.slash(ADMIN, "reload_config")
        await fake.wait_for(lambda: fake.texts(fi))
        assert fake.texts(fi)[0].replace("\\", "") == f"{cfg}: no changes."
        cfg.write_text(body.replace("[[bots]]", "[risk]\nmax_trades_per_day = 7\n[[bots]]"))
        fi = await fake.slash(ADMIN, "reload_config")
        await fake.wait_for(lambda: fake.texts(fi))
        assert "  risk.max\\_trades\\_per\\_day 50 → 7" in fake.texts(fi)[0]
        assert eng.settings.risk.max_trades_per_day == 7
    finally:
        await n.stop()
        await dc.stop()
        await eng.close()
        await fake.stop()
