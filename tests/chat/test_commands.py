"""Commands against the SQLite-backed fake engine: answers, roles, usage lines."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from bot.console import ConsoleTransport
from commands import COMMANDS, dispatch
from commands.base import Ctx, split_args
from commands.callbacks import CallbackError, CallbackSigner, derive_key
from commands.reply import Reply, discord_markdown, telegram_html
from engine.service.api import BreakerState
from engine.storage.dbtypes import utcnow
from engine.storage.models import Trade
from tests.chat.fake_api import FakeEngine


async def test_start_and_help_depend_on_role(ctx_for: Callable[[str], Ctx]) -> None:
    r = await dispatch(ctx_for("viewer"), "start", [])
    assert "viewer" in r.text
    viewer_help = (await dispatch(ctx_for("viewer"), "help", [])).text
    admin_help = (await dispatch(ctx_for("admin"), "help", [])).text
    assert "/status" in viewer_help and "/approve" not in viewer_help
    assert "/resume" in admin_help and "/logs" in admin_help


async def test_viewer_cannot_trade(ctx_for: Callable[[str], Ctx], engine: FakeEngine) -> None:
    pid = engine.propose()
    r = await dispatch(ctx_for("viewer"), "approve", [str(pid)])
    assert not r.ok and "trader" in r.text
    assert engine.placed == []
    r = await dispatch(ctx_for("trader"), "resume", [])
    assert not r.ok and "admin" in r.text


async def test_start_bot_status_approve_flow(ctx_for: Callable[[str], Ctx],
                                             engine: FakeEngine) -> None:
    ctx = ctx_for("trader")
    r = await dispatch(ctx, "start_bot", [])
    assert "main: running" in r.text
    pending = await dispatch(ctx, "pending", [])
    assert [b.action for b in pending.buttons] == ["approve", "reject", "details"]
    pid = int(pending.buttons[0].id)
    r = await dispatch(ctx, "approve", [f"#{pid}"])
    assert "Approved by alice" in r.text and "filled 0.01 @ 65,000.0000" in r.text
    again = await dispatch(ctx, "approve", [str(pid)])
    assert "already executed" in again.text
    assert engine.placed == [pid]
    engine.prices["BTC/USDT"] = Decimal("66000")
    status = await dispatch(ctx, "status", [])
    assert "Open positions: 1" in status.text and "+9.35" in status.text  # 10 - 0.65 fee
    table = await dispatch(ctx, "status", ["table"])
    assert table.monospace and "BTC/USDT" in table.text


async def test_reports_on_closed_trades(ctx_for: Callable[[str], Ctx],
                                        engine: FakeEngine) -> None:
    now = utcnow()
    with engine.sessions.begin() as s:
        for i, pnl in enumerate(["12.5", "-2.5", "4"]):
            s.add(Trade(symbol="ETH/USDT" if i else "BTC/USDT", is_open=False,
                        amount=Decimal(1), open_price=Decimal(100), close_price=Decimal(101),
                        close_at=now - timedelta(days=i), realized_pnl=Decimal(pnl)))
    ctx = ctx_for("viewer")
    assert "realised +14.00 over 3 trades (win rate 67%)" in (
        await dispatch(ctx, "profit", [])).text
    assert "over 1 trades" in (await dispatch(ctx, "profit", ["1"])).text
    daily = (await dispatch(ctx, "daily", ["3"])).text.splitlines()
    assert daily[2].endswith("+12.50") and daily[3].endswith("-2.50")
    perf = (await dispatch(ctx, "performance", [])).text
    assert perf.index("BTC/USDT") < perf.index("ETH/USDT")
    trades = (await dispatch(ctx, "trades", ["2"])).text
    assert len(trades.splitlines()) == 4


async def test_usage_lines(ctx_for: Callable[[str], Ctx]) -> None:
    ctx = ctx_for("admin")
    for name, args in [("trades", ["abc"]), ("approve", []), ("approve", ["1", "2"]),
                       ("backtest", ["BTC/USDT", "5m", "30d"]),
                       ("backtest", ["BTC/USDT", "7m", "30d", "ema_rsi_cross"]),
                       ("backtest", ["BTC/USDT", "5m", "30x", "ema_rsi_cross"]),
                       ("backtest", ["BTC/USDT", "5m", "30d", "nope"]),
                       ("sentiment", ["'; DROP TABLE trades;--"]), ("alerts", ["loud"])]:
        r = await dispatch(ctx, name, args)
        assert not r.ok and r.text.startswith(f"usage: /{name}"), (name, args, r.text)


async def test_backtest_unknown_pair_and_success(ctx_for: Callable[[str], Ctx]) -> None:
    ctx = ctx_for("trader")
    r = await dispatch(ctx, "backtest", ["DOGE/USDT", "5m", "30d", "ema_rsi_cross"])
    assert not r.ok and r.text.startswith("no DOGE/USDT 5m candles in ") and "\n" not in r.text
    r = await dispatch(ctx, "backtest", ["btc/usdt", "5m", "30d", "ema_rsi_cross"])
    assert r.ok and r.image is not None and r.document is not None
    assert r.document.filename == "trades.csv" and "30d" in r.text


async def test_alert_prefs_roundtrip(ctx_for: Callable[[str], Ctx]) -> None:
    ctx = ctx_for("viewer")
    assert "on: all types" in (await dispatch(ctx, "alerts", [])).text
    assert "on: fill, breaker_tripped" in (
        await dispatch(ctx, "alerts", ["FILL", "breaker_tripped"])).text
    assert "off" in (await dispatch(ctx, "alerts", ["off"])).text
    assert (await dispatch(ctx, "alerts", [])).text == "Alerts off: fill, breaker_tripped"


async def test_risk_and_resume(ctx_for: Callable[[str], Ctx], engine: FakeEngine) -> None:
    engine.breakers.append(BreakerState("daily_loss", "pause_entries", 6.1, 5.0, None))
    r = await dispatch(ctx_for("viewer"), "risk", [])
    assert "BREAKER daily_loss" in r.text and "halted" in r.text
    r = await dispatch(ctx_for("admin"), "resume", [])
    assert "Cleared: daily_loss" in r.text
    assert "No breaker" in (await dispatch(ctx_for("viewer"), "risk", [])).text


async def test_engine_crash_is_not_shown(ctx_for: Callable[[str], Ctx],
                                         engine: FakeEngine) -> None:
    async def boom() -> list[object]:
        raise RuntimeError("secret internals /etc/passwd")
    engine.balances = boom  # type: ignore[assignment,method-assign]
    r = await dispatch(ctx_for("viewer"), "balance", [])
    assert not r.ok and "secret" not in r.text and "Traceback" not in r.text


def test_split_args() -> None:
    assert split_args("/Status@SentiBot table") == ("status", ["table"])
    assert split_args("   ") == ("", [])


def test_escaping() -> None:
    r = Reply("<b>x</b> & *bold* @everyone")
    assert telegram_html(r) == "&lt;b&gt;x&lt;/b&gt; &amp; *bold* @everyone"
    assert "\\*bold\\*" in discord_markdown(r) and "@everyone" not in discord_markdown(r)
    assert telegram_html(Reply("a<b", monospace=True)) == "<pre>a&lt;b</pre>"


def test_callback_signing() -> None:
    t = [1_700_000_000.0]
    s = CallbackSigner(derive_key(b"m" * 32), ttl_seconds=60, clock=lambda: t[0])
    data = s.sign("approve", 123456789)
    assert len(data.encode()) <= 64
    assert s.verify(data).target_id == 123456789
    other = CallbackSigner(derive_key(b"x" * 32), clock=lambda: t[0])
    for bad in (data.replace("|a|", "|r|"), data[:-1] + ("A" if data[-1] != "A" else "B"),
                other.sign("approve", 123456789), "p|a|1|0|", "garbage", "é" * 10):
        try:
            s.verify(bad)
        except CallbackError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    t[0] += 61
    try:
        s.verify(data)
        raise AssertionError("stale accepted")
    except CallbackError as e:
        assert e.reason == "stale"


async def test_console_buttons_as_numbers(engine: FakeEngine, signer: CallbackSigner) -> None:
    out = io.StringIO()
    con = ConsoleTransport(engine, signer, out=out)
    await con.handle_line("start_bot")
    r = await con.handle_line("/pending")
    assert r is not None
    con._show(r)
    assert "[1] Approve" in out.getvalue()
    decided = await con.handle_line("1")
    assert decided is not None and "Approved by console" in decided.text
    assert len(engine.placed) == 1
    assert (await con.handle_line("9")) is not None


def test_every_command_has_usage_and_summary() -> None:
    assert len(COMMANDS) >= 26
    for c in COMMANDS.values():
        assert c.summary and c.usage_line().startswith(f"usage: /{c.name}")
