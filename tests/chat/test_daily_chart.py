"""The daily summary carries a PnL chart (PNG) of the summary's own day (the engine's
clock: a replay's day in a replay): a photo on Telegram, an attachment on Discord, a
saved file on the console; and a steered replay sends the summary at each replay
midnight."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.console import ConsoleTransport
from bot.digest import Policy
from bot.discord_bot import DiscordTransport
from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.callbacks import CallbackSigner, derive_key
from commands.dailychart import daily_pnl
from engine.storage.config import NotifySettings
from engine.storage.models import Trade
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

SIGNER = CallbackSigner(derive_key(b"p" * 32))
DAY = "2025-03-10"  # months before the wall clock: the replay's day, not today
PNG = b"\x89PNG\r\n\x1a\n"


def _trades(engine: FakeEngine) -> None:
    end = datetime(2025, 3, 10, 18, tzinfo=UTC)
    with engine.sessions.begin() as s:
        for i, pnl in enumerate(["12.5", "-4", "7", "3.25"]):
            t = end - timedelta(days=i)
            s.add(Trade(symbol="BTC/USDT", is_open=False, amount=Decimal("0.01"),
                        stake=Decimal(650), open_price=Decimal(65000), open_at=t,
                        close_price=Decimal(65100), close_at=t, fees=Decimal(0),
                        realized_pnl=Decimal(pnl)))
        s.add(Trade(symbol="BTC/USDT", is_open=False, amount=Decimal(1), stake=Decimal(1),
                    open_price=Decimal(1), close_at=end + timedelta(days=1),  # after DAY
                    fees=Decimal(0), realized_pnl=Decimal(100)))


def _summary(engine: FakeEngine) -> None:
    engine.alert("daily_summary", {"day": DAY, "equity": "10018.75",
                                   "realized_pnl": "12.5", "trades_closed": 1,
                                   "open_trades": 0})


def test_daily_pnl_counts_the_days_up_to_the_summary_day(tmp_path: Path) -> None:
    engine = FakeEngine(make_settings(tmp_path))
    _trades(engine)
    rows = daily_pnl(engine.sessions, DAY, days=5)
    assert [f"{d:%m-%d}" for d, _, _ in rows] == ["03-06", "03-07", "03-08", "03-09", "03-10"]
    assert [p for _, p, _ in rows] == [Decimal(0), Decimal("3.25"), Decimal(7), Decimal(-4),
                                       Decimal("12.5")]
    assert sum(n for _, _, n in rows) == 4  # the trade closed after DAY is not in it


async def test_summary_chart_on_telegram_discord_and_console(tmp_path: Path) -> None:
    tg_fake, dc_fake = FakeTelegram(), FakeDiscord()
    await tg_fake.start()
    await dc_fake.start()
    settings = make_settings(
        tmp_path,
        telegram={"token": tg_fake.token, "base_url": tg_fake.base_url,
                  "allowed_users": {"111": "trader"}},
        discord={"token": dc_fake.token, "api_base": dc_fake.rest_base,
                 "guild_id": dc_fake.guild_id, "channel_id": dc_fake.channel_id,
                 "allowed_users": {"111": "trader"}})
    engine = FakeEngine(settings, propose_on_start=False)
    _trades(engine)
    tg = TelegramTransport(settings, engine, SIGNER, poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    dc = DiscordTransport(settings, engine, SIGNER, ready_timeout=15)
    out = io.StringIO()
    con = ConsoleTransport(engine, SIGNER, out=out, image_dir=tmp_path / "img")
    n = Notifier(engine, [tg, dc, con], poll_interval=0.02,
                 policy=Policy(NotifySettings(digest_window_seconds=0)))
    await tg.start()
    await dc.start()
    await n.start()
    try:
        _summary(engine)
        assert await n.wait_idle(timeout=10)
        photo = next(m for m in tg_fake.sent_to(111) if m.method == "sendPhoto")
        assert photo.filename == f"pnl-{DAY}.png" and photo.file_bytes.startswith(PNG)
        assert any(m.text.startswith(f"Daily summary {DAY}") for m in tg_fake.sent_to(111))
        [msg] = dc_fake.in_channel()
        assert msg.content.startswith(f"Daily summary {DAY}")
        assert msg.files[0][0] == f"pnl-{DAY}.png" and msg.files[0][1] == photo.file_bytes
        saved = Path(out.getvalue().split("(image saved: ", 1)[1].split(")", 1)[0])
        assert saved.parent == tmp_path / "img" and saved.read_bytes() == photo.file_bytes
    finally:
        await n.stop()
        await dc.stop()
        await tg.stop()
        await tg_fake.stop()
        await dc_fake.stop()
