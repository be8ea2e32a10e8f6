"""The Freqtrade command set (/count, /stats, /entries, /exits, /order, /health,
/show_config, /whitelist, /blacklist) against the fake engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from pydantic import SecretStr

from commands import dispatch
from commands.base import Ctx
from engine.storage.dbtypes import utcnow
from engine.storage.models import Trade
from tests.chat.fake_api import FakeEngine


async def _trade(engine: FakeEngine, ctx: Ctx, pnl: str, reason: str, hours: int) -> int:
    pid = engine.propose()
    d = await engine.approve(pid, "telegram:1")
    assert d.order is not None and d.order.trade_id is not None
    with engine.sessions.begin() as s:
        t = s.get(Trade, d.order.trade_id)
        assert t is not None
        t.is_open, t.exit_reason = False, reason
        t.realized_pnl, t.pnl_ratio = Decimal(pnl), float(pnl) / 650
        t.close_at = t.open_at + timedelta(hours=hours)
        s.add(t)
    return d.order.trade_id


async def test_stats_entries_exits_and_order(ctx_for: Callable[[str], Ctx],
                                            engine: FakeEngine) -> None:
    ctx = ctx_for("viewer")
    assert "No closed trades" in (await dispatch(ctx, "stats", [])).text
    tid = await _trade(engine, ctx, "10", "roi", 2)
    await _trade(engine, ctx, "-5", "stop_loss", 1)
    await _trade(engine, ctx, "3", "roi", 4)
    stats = (await dispatch(ctx, "stats", [])).text
    assert "roi" in stats and "stop_loss" in stats
    assert "winners: 3:00:00 on average" in stats and "losers: 1:00:00" in stats
    exits = (await dispatch(ctx, "exits", [])).text
    roi_row = next(line for line in exits.splitlines() if line.startswith("roi"))
    assert "2/0" in roi_row and "+13.00" in roi_row
    entries = (await dispatch(ctx, "entries", ["BTC/USDT"])).text
    assert "ema cross" in entries and "3" in entries  # the proposal's first reason
    assert "No closed trades on ETH/USDT" in (await dispatch(ctx, "entries", ["ETH/USDT"])).text
    assert not (await dispatch(ctx, "entries", ["BTC"])).ok  # usage line, not a crash
    order = (await dispatch(ctx, "order", [str(tid)])).text
    assert f"Trade #{tid} BTC/USDT" in order and "filled" in order and "buy" in order
    missing = await dispatch(ctx, "order", ["999"])
    assert not missing.ok and "No trade #999" in missing.text


async def test_count_health_config_and_lists(ctx_for: Callable[[str], Ctx],
                                             engine: FakeEngine) -> None:
    viewer, trader = ctx_for("viewer"), ctx_for("trader")
    cap = engine.settings.risk.max_open_trades
    assert f"Open trades: 0 of {cap}" in (await dispatch(viewer, "count", [])).text
    engine.last_candles = {"BTC/USDT 5m": utcnow() - timedelta(minutes=3),
                           "ETH/USDT 5m": utcnow() - timedelta(minutes=30)}
    health = (await dispatch(viewer, "health", [])).text
    assert "ETH/USDT 5m" in health and "LATE" in health and "1 series late" in health
    cfg = (await dispatch(viewer, "show_config", [])).text
    assert '"risk"' in cfg and "max_open_trades" in cfg
    ex = engine.settings.exchange.model_copy(update={"api_key": SecretStr("sekrit-key")})
    engine.settings = engine.settings.model_copy(update={"exchange": ex})
    assert "sekrit-key" not in (await dispatch(viewer, "show_config", [])).text
    assert "BTC/USDT" in (await dispatch(viewer, "whitelist", [])).text
    denied = await dispatch(viewer, "blacklist", ["DOGE/USDT"])
    assert not denied.ok and "trader" in denied.text
    await dispatch(trader, "blacklist", ["doge/usdt"])
    assert engine.settings.risk.blacklist == ["DOGE/USDT"]
    assert "DOGE/USDT" in (await dispatch(viewer, "blacklist", [])).text


async def test_locks_and_unlock(ctx_for: Callable[[str], Ctx], engine: FakeEngine) -> None:
    from engine.storage.models import PairLock

    viewer, trader = ctx_for("viewer"), ctx_for("trader")
    assert "No active locks" in (await dispatch(viewer, "locks", [])).text
    with engine.sessions.begin() as s:
        s.add(PairLock(pair="BTC/USDT", until=utcnow() + timedelta(hours=1),
                       rule="StoplossGuard", reason="3 stoplosses in 12 candles"))
        s.add(PairLock(pair="*", until=utcnow() + timedelta(hours=2), rule="MaxDrawdown",
                       reason="drawdown 6%"))
    text = (await dispatch(viewer, "locks", [])).text
    assert "BTC/USDT" in text and "StoplossGuard" in text and "all" in text
    assert not (await dispatch(viewer, "unlock", ["BTC/USDT"])).ok  # trader role
    r = await dispatch(trader, "unlock", ["btc/usdt"])
    assert r.ok and "BTC/USDT (StoplossGuard)" in r.text
    assert "BTC/USDT" not in (await dispatch(viewer, "locks", [])).text
    assert "MaxDrawdown" in (await dispatch(trader, "unlock", ["all"])).text
    assert not (await dispatch(trader, "unlock", ["all"])).ok
    assert not (await dispatch(trader, "unlock", [])).ok


async def test_chart_command(ctx_for: Callable[[str], Ctx]) -> None:
    r = await dispatch(ctx_for("viewer"), "chart", ["BTC/USDT", "5m"])
    assert r.ok and r.image is not None and r.image.data.startswith(b"\x89PNG")
    missing = await dispatch(ctx_for("viewer"), "chart", ["DOGE/USDT"])
    assert not missing.ok and "no bot trades DOGE/USDT" in missing.text
    assert not (await dispatch(ctx_for("viewer"), "chart", ["BTC/USDT", "7m"])).ok
