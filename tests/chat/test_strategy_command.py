"""/strategy [bot]: the active strategy, its parameters and where each value came from,
the same answer in the console, Telegram and Discord."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.console import ConsoleTransport
from bot.discord_bot import SLASH_OPTIONS, DiscordTransport
from bot.flood import FloodLimiter, telegram_lanes
from bot.telegram import TelegramTransport
from commands import dispatch
from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner, derive_key
from engine.storage.config import Settings
from engine.strategy.template import render
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

VIEWER = 222


def _viewer(api: FakeEngine) -> Ctx:
    return Ctx(api=api, user=Identity("telegram", str(VIEWER), "bob", "viewer"))


def own_settings(tmp: Path, **over: object) -> Settings:
    """Two bots: `trend` on a strategy file with hyperopt results and a settings
    override, `news` on a built-in."""
    folder = tmp / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TrendNews.py").write_text(render("TrendNews"))
    (folder / "TrendNews.json").write_text(json.dumps(
        {"strategy_name": "TrendNews",
         "params": {"buy": {"fast": 9}, "stoploss": {"stoploss": -0.05}}}))
    return make_settings(
        tmp, engine={"strategy_path": str(folder)},
        bots=[{"name": "trend", "strategy": "TrendNews", "symbols": ["BTC/USDT"],
               "timeframe": "15m", "params": {"rsi_max": 65.5}},
              {"name": "news", "strategy": "news_momentum", "symbols": ["ETH/USDT"]}], **over)


@pytest.fixture
def own(tmp_path: Path) -> FakeEngine:
    return FakeEngine(own_settings(tmp_path), propose_on_start=False)


def _rows(text: str) -> dict[str, tuple[str, str]]:
    """parameter -> (value, from) out of the reply's table (the lines after its rule)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("parameter ")) + 2
    out = {}
    for line in lines[start:]:
        name, value, origin = line.split()
        out[name] = (value, origin)
    return out


async def test_file_strategy_shows_each_parameters_origin(own: FakeEngine, tmp_path: Path) -> None:
    r = await dispatch(_viewer(own), "strategy", ["trend"])
    assert r.ok and r.monospace
    folder = tmp_path / "strategies"
    lines = r.text.splitlines()
    assert lines[0] == f"Bot trend: TrendNews, from {folder / 'TrendNews.py'}"
    assert lines[1] == "Timeframe: 15m"
    assert lines[2] == f"Hyperopt parameters: {folder / 'TrendNews.json'}"
    rows = _rows(r.text)
    assert rows["fast"] == ("9", "TrendNews.json")
    assert rows["stoploss"] == ("-0.05", "TrendNews.json")
    assert rows["rsi_max"] == ("65.5", "settings")
    assert rows["slow"] == ("26", "default")
    assert rows["exit_on_hack"] == ("true", "default")


async def test_builtin_strategy_without_params_file(own: FakeEngine) -> None:
    r = await dispatch(_viewer(own), "strategy", ["news"])
    assert r.ok
    assert r.text.startswith("Bot news: news_momentum (NewsMomentum), built-in\nTimeframe: 5m")
    assert "Hyperopt parameters: none (" in r.text and "not found)" in r.text
    rows = _rows(r.text)
    assert rows["impact_min"] == ("6", "default") and rows["stoploss"] == ("-0.04", "default")


async def test_which_bot_and_unknown_bot(own: FakeEngine) -> None:
    r = await dispatch(_viewer(own), "strategy", [])
    assert not r.ok and r.text == "which bot? one of trend, news"
    r = await dispatch(_viewer(own), "strategy", ["ghost"])
    assert not r.ok and r.text.startswith("no bot 'ghost'")
    r = await dispatch(_viewer(own), "strategy", ["a", "b"])
    assert not r.ok and r.text.startswith("usage: /strategy [bot]")


async def test_only_bot_needs_no_name_and_viewer_may_ask(
        ctx_for: Callable[[str], Ctx]) -> None:
    r = await dispatch(ctx_for("viewer"), "strategy", [])
    assert r.ok and r.text.startswith("Bot main: sentiment_fusion (SentimentFusion), built-in")
    assert _rows(r.text)["entry_threshold"] == ("0.35", "default")
    helped = (await dispatch(ctx_for("viewer"), "help", [])).text
    assert "/strategy [bot] - " in helped


async def test_console(own: FakeEngine) -> None:
    con = ConsoleTransport(own, CallbackSigner(derive_key(b"c" * 32)), out=io.StringIO())
    r = await con.handle_line("strategy trend")
    assert r is not None and r.text.startswith("Bot trend: TrendNews")


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    settings = own_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url, "base_file_url": fake.base_file_url,
        "allowed_users": {str(VIEWER): "viewer"}})
    api = FakeEngine(settings, propose_on_start=False)
    tg = TelegramTransport(settings, api, CallbackSigner(derive_key(b"t" * 32)), poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    await tg.start()
    try:
        yield fake
    finally:
        await tg.stop()
        await fake.stop()


async def test_telegram(telegram: FakeTelegram) -> None:
    assert "strategy" in {c["command"] for c in telegram.commands}
    await telegram.push_text(VIEWER, "/strategy trend")
    await telegram.wait_for(lambda: any(
        "Bot trend: TrendNews" in m.text for m in telegram.sent_to(VIEWER)))
    text = next(m.text for m in telegram.sent_to(VIEWER) if "Bot trend" in m.text)
    assert text.startswith("<pre>") and "TrendNews.json" in text


@pytest.fixture
async def discord(tmp_path: Path) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    settings = make_settings(tmp_path, discord={
        "token": fake.token, "api_base": fake.rest_base, "guild_id": fake.guild_id,
        "channel_id": fake.channel_id, "allowed_users": {str(VIEWER): "viewer"}})
    dc = DiscordTransport(settings, FakeEngine(settings, propose_on_start=False),
                          CallbackSigner(derive_key(b"d" * 32)), defer_after=1.0,
                          ready_timeout=15)
    await dc.start()
    try:
        yield fake
    finally:
        await dc.stop()
        await fake.stop()


async def test_discord(discord: FakeDiscord) -> None:
    fi = await discord.slash(VIEWER, "strategy")
    await discord.wait_for(lambda: bool(fi.callbacks and discord.responses(fi)))
    text = discord.texts(fi)[0]
    assert text.startswith("```\nBot main: sentiment_fusion (SentimentFusion), built-in")


@pytest.mark.skipif("strategy" not in SLASH_OPTIONS,
                    reason="bot/discord_bot.py SLASH_OPTIONS has no 'strategy' entry yet")
async def test_discord_bot_option(discord: FakeDiscord) -> None:
    opt = SLASH_OPTIONS["strategy"][0].name
    fi = await discord.slash(VIEWER, "strategy", {opt: "main"})
    await discord.wait_for(lambda: bool(fi.callbacks and discord.responses(fi)))
    assert "Bot main: sentiment_fusion" in discord.texts(fi)[0]


async def test_real_engine(tmp_path: Path) -> None:
    """The engine's own `strategy_info` renders the same way as the fake's."""
    from engine.service.engine import Engine
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade

    settings = own_settings(tmp_path, exchange={"mode": "paper"})
    upgrade(settings.database.url)
    eng = Engine(settings, SessionFactory(make_engine(settings.database.url)))
    await eng.start()
    try:
        real = await dispatch(Ctx(api=eng, user=Identity("console", "1", "x", "viewer")),
                              "strategy", ["trend"])
    finally:
        await eng.close()
    want = await dispatch(_viewer(FakeEngine(own_settings(tmp_path / "fake"))),
                          "strategy", ["trend"])
    assert real.ok, real.text
    assert _rows(real.text) == _rows(want.text)
    assert _rows(real.text)["fast"] == ("9", "TrendNews.json")
