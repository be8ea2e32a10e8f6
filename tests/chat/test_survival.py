"""The service survives its transports: a rejected token, a Bot API or gateway that is
down or slow never stops anything; one masked line says what is wrong; the transport
retries with backoff and delivers once the platform is back; stop is bounded."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.transports import ChatServices, build
from tests.chat.fake_api import FakeEngine, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

TRADER = 111
WRONG = "123456:WRONG-secret-token-value"


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    """What the service's log handlers would write: they carry the secret filter (a
    library's own records, e.g. httpx's request lines with the token in the URL, are
    masked there); our own records must be clean before any filter."""
    from engine.storage.secrets import secret_filter

    ours = [r.getMessage() + (r.exc_text or "") for r in caplog.records
            if r.name.startswith("sentitrade")]
    shown = []
    for r in caplog.records:
        secret_filter().filter(r)
        shown.append(r.getMessage() + (r.exc_text or ""))
    return "\n".join(ours + shown)


async def _wait(pred: object, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_rejected_telegram_token_is_one_masked_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(tmp_path, telegram={
        "token": WRONG, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader"}})
    engine = FakeEngine(settings)
    services = build(settings, engine, console=False)
    services.retry_cap = 0.5
    caplog.set_level(logging.INFO)
    try:
        await services.start()  # returns at once: the engine goes on
        await _wait(lambda: sum("token was rejected" in r.getMessage()
                                for r in caplog.records) >= 2)
        line = next(r.getMessage() for r in caplog.records
                    if "token was rejected" in r.getMessage())
        assert "\n" not in line and "set-secret telegram.token" in line
        engine.alert("fill", {"symbol": "BTC/USDT"})  # alerts wait, nothing raises
        await asyncio.sleep(0.3)
        assert services.notifier.pending() == 1
    finally:
        t0 = time.monotonic()
        await services.stop()
        assert time.monotonic() - t0 < 5
        await fake.stop()
    assert WRONG not in _all_text(caplog) and "WRONG-secret" not in _all_text(caplog)


async def test_bot_api_down_then_back_delivers(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.down = True
    settings = make_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader"}})
    engine = FakeEngine(settings)
    services = build(settings, engine, console=False)
    services.retry_cap = 0.3
    try:
        await services.start()
        engine.alert("fill", {"symbol": "BTC/USDT", "price": "1"})
        await _wait(lambda: sum(r.getMessage().startswith("telegram:")
                                for r in caplog.records) >= 2)
        fake.down = False
        assert await services.wait_ready(10)
        await _wait(lambda: any(m.text.startswith("Filled") for m in fake.sent_to(TRADER)))
    finally:
        await services.stop()
        await fake.stop()
    assert fake.token not in _all_text(caplog)


async def test_slow_bot_api_is_retried(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.delay = 1.0
    settings = make_settings(tmp_path, telegram={
        "token": fake.token, "base_url": fake.base_url,
        "allowed_users": {str(TRADER): "trader"}})
    services = build(settings, FakeEngine(settings), console=False)
    services.start_timeout, services.retry_cap = 0.5, 0.2
    try:
        await services.start()
        assert not await services.wait_ready(1.5)  # too slow: timed out, retrying
        fake.delay = 0.0
        assert await services.wait_ready(10)
    finally:
        await services.stop()
        await fake.stop()


async def test_rejected_discord_token_never_stops_telegram(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tg, dc = FakeTelegram(), FakeDiscord()
    await tg.start()
    await dc.start()
    settings = make_settings(tmp_path, telegram={
        "token": tg.token, "base_url": tg.base_url,
        "allowed_users": {str(TRADER): "admin", "222": "viewer"}}, discord={
        "token": "WRONG.discord.secret", "api_base": dc.rest_base,
        "guild_id": dc.guild_id, "channel_id": dc.channel_id})
    engine = FakeEngine(settings)
    services = build(settings, engine, console=False)
    services.retry_cap = 0.5
    try:
        await services.start()
        await _wait(lambda: any("discord: the token was rejected" in r.getMessage()
                                for r in caplog.records))
        await tg.push_text(TRADER, "/version")
        await tg.wait_for(lambda: any("sentitrade" in m.text for m in tg.sent_to(TRADER)))
        # the admin hears about Discord on Telegram, once; the viewer does not
        await tg.wait_for(lambda: any("discord: the token was rejected" in m.text
                                      for m in tg.sent_to(TRADER)))
        await asyncio.sleep(1.5)  # more failed tries: no more messages about it
        assert sum("discord" in m.text for m in tg.sent_to(TRADER)) == 1
        assert tg.sent_to(222) == []
    finally:
        await services.stop()
        await tg.stop()
        await dc.stop()
    assert "WRONG.discord.secret" not in _all_text(caplog)


def test_stored_secret_reaches_the_transport(tmp_path: Path) -> None:
    """`run` builds its transports from the engine's settings, which hold the secrets
    loaded from the vault after the CLI read the file (only there, for a token stored
    with `config set-secret`)."""
    from bot.cli import _chat_attachment
    from bot.telegram import TelegramTransport

    file_only = make_settings(tmp_path)
    with_vault = make_settings(tmp_path, telegram={"token": "123:FROM-THE-VAULT",
                                                   "allowed_users": {"1": "admin"}})
    services = _chat_attachment(file_only, False)(FakeEngine(with_vault))
    assert isinstance(services, ChatServices)
    assert any(isinstance(s, TelegramTransport) for s in services.sinks)


async def test_console_quit_stops_the_service(tmp_path: Path) -> None:
    from bot.console import ConsoleTransport

    lines = iter(["/version\n", "/quit\n"])
    con = ConsoleTransport(FakeEngine(make_settings(tmp_path)), build(
        make_settings(tmp_path), FakeEngine(make_settings(tmp_path)), console=False).signer,
        out=open(os.devnull, "w"), readline=lambda: next(lines))  # noqa: SIM115
    quit_called: list[bool] = []
    con.on_quit = lambda: quit_called.append(True)
    await asyncio.wait_for(con.repl(), 5)
    assert quit_called == [True]


SERVICE = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from bot.transports import build
    from tests.chat.fake_api import FakeEngine, make_settings

    async def main():
        settings = make_settings(Path(sys.argv[1]))
        services = build(settings, FakeEngine(settings), console=True)
        await services.start()
        [con] = services.sinks
        repl = asyncio.create_task(con.repl())  # reads stdin, as on a terminal
        print("ready", flush=True)
        try:
            await asyncio.sleep(3600)
        finally:
            await services.stop()
            print("stopped cleanly", flush=True)

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(0)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_within_five_seconds(tmp_path: Path, sig: signal.Signals) -> None:
    """A process hosting the chat services with a console reading stdin (which never
    answers) stops on SIGTERM/SIGINT within 5 s, draining and closing on the way."""
    root = Path(__file__).resolve().parents[2]
    r, w = os.pipe()  # stdin that stays open and silent, like an idle terminal
    proc = subprocess.Popen([sys.executable, "-c", SERVICE, str(tmp_path)], stdin=r,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 5, err
        assert proc.returncode == 0 and "stopped cleanly" in out, err
    finally:
        os.close(r)
        os.close(w)
        if proc.poll() is None:
            proc.kill()
