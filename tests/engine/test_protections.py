"""Freqtrade's protections as pair locks: each rule on trade lists built to trip it (and
not to), the lock's end rounded up to the candle, the engine refusing an entry while a
lock holds, /locks and /unlock, and a lock that survives a restart."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select

from engine.risk.protections import Closed, ProtectionDesk, derive
from engine.storage.config import ProtectionSpec
from engine.storage.models import OutboxMessage, PairLock, Trade

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
M5 = timedelta(minutes=5)


def _c(pair: str, minutes: float, ratio: float, reason: str = "exit_signal") -> Closed:
    return Closed(pair, T0 + timedelta(minutes=minutes), ratio, reason)


def test_cooldown_locks_the_pair_from_its_exit_rounded_up_to_the_candle() -> None:
    spec = ProtectionSpec(method="CooldownPeriod", stop_duration_candles=3)
    locks = derive(spec, [_c("BTC/USDT", 1.5, 0.01)], "5m")
    # closed 12:01:30 + 15 min = 12:16:30 -> the 12:20 candle
    assert [(lk.pair, lk.until) for lk in locks] == [("BTC/USDT", T0 + 4 * M5)]


def test_stoploss_guard_counts_stops_inside_its_lookback() -> None:
    spec = ProtectionSpec(method="StoplossGuard", trade_limit=3, lookback_period_candles=12,
                          stop_duration_candles=6)
    spaced = [_c("A/USDT", 0, -0.02, "stop_loss"), _c("B/USDT", 30, -0.02, "stop_loss"),
              _c("C/USDT", 61, -0.02, "stop_loss")]  # the first is out of the 60-min window
    assert derive(spec, spaced, "5m") == []
    close = [*spaced[:2], _c("C/USDT", 45, -0.02, "stop_loss"), _c("D/USDT", 50, 0.03)]
    locks = derive(spec, sorted(close, key=lambda c: c.close_at), "5m")
    assert [(lk.pair, lk.until) for lk in locks] == [("*", T0 + timedelta(minutes=75))]
    per_pair = ProtectionSpec(method="StoplossGuard", trade_limit=2, only_per_pair=True,
                              lookback_period_candles=12)
    mixed = [_c("A/USDT", 0, -0.02, "stop_loss"), _c("B/USDT", 5, -0.02, "stop_loss"),
             _c("A/USDT", 10, -0.01, "trailing_stop_loss")]
    assert {lk.pair for lk in derive(per_pair, mixed, "5m")} == {"A/USDT"}


def test_low_profit_pairs_and_max_drawdown() -> None:
    lp = ProtectionSpec(method="LowProfitPairs", trade_limit=2, required_profit=0.0,
                        lookback_period_candles=100)
    trades = [_c("A/USDT", 0, 0.01), _c("A/USDT", 10, -0.02), _c("B/USDT", 20, -0.05)]
    assert {(lk.pair, lk.rule) for lk in derive(lp, trades, "5m")} == {
        ("A/USDT", "LowProfitPairs")}  # B has one trade only
    md = ProtectionSpec(method="MaxDrawdown", trade_limit=3, max_allowed_drawdown=0.05,
                        lookback_period_candles=100)
    down = [_c("A/USDT", 0, 0.02), _c("B/USDT", 5, -0.03), _c("C/USDT", 10, -0.03)]
    locks = derive(md, down, "5m")
    assert [lk.pair for lk in locks] == ["*"] and "6.00%" in locks[0].reason
    assert derive(md, down[:2], "5m") == []


async def test_the_engine_refuses_entries_while_locked(engine_factory: Any) -> None:
    eng = await engine_factory(risk={"protections": [
        {"method": "CooldownPeriod", "stop_duration_candles": 6}]})
    bot = eng.bots.all()[0]
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        s.add(Trade(bot_id=bot.id, symbol="BTC/USDT", is_open=False, amount=Decimal(1),
                    open_price=Decimal(100), open_at=now - timedelta(hours=1),
                    close_price=Decimal(99), close_at=now - timedelta(minutes=10),
                    realized_pnl=Decimal(-1), pnl_ratio=-0.01, exit_reason="stop_loss"))
    desk: ProtectionDesk = eng.protections
    with eng.sessions.begin() as s:
        why = desk.blocked(s, bot.id, "BTC/USDT", "5m", now)
        assert why is not None and "CooldownPeriod" in why
        assert desk.blocked(s, bot.id, "ETH/USDT", "5m", now) is None
    with eng.sessions.begin() as s:  # asked again: same lock, no second row or alert
        assert desk.blocked(s, bot.id, "BTC/USDT", "5m", now) is not None
    with eng.sessions() as s:
        assert len(s.exec(select(PairLock)).all()) == 1
        assert len(s.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "pair_locked")).all()) == 1
    assert [lk.pair for lk in eng.locks()] == ["BTC/USDT"]
    assert [lk.pair for lk in await eng.unlock("BTC/USDT", "telegram:1")] == ["BTC/USDT"]
    assert eng.locks() == []
    with eng.sessions.begin() as s:  # the trigger is spent: no new lock
        assert desk.blocked(s, bot.id, "BTC/USDT", "5m", now) is None
    later = now + timedelta(minutes=30)
    with eng.sessions.begin() as s:
        assert desk.blocked(s, bot.id, "BTC/USDT", "5m", later) is None  # expired anyway


async def test_a_replay_with_a_cooldown_never_enters_inside_it(tmp_path: Any) -> None:
    from engine.backtest._paths import shared_data
    from engine.storage.config import RiskSettings
    from tests.engine.parity import live_rows, parity_settings, replay_live

    data = shared_data() / "ohlcv" / "freqtrade_testdata"
    start = 1_515_560_100_000  # the test data's first candle
    end = start + 5 * 86_400_000
    counts = {}
    for cooldown in (0, 24):
        s = parity_settings(f"sqlite:///{tmp_path / f'c{cooldown}.db'}", data, ["ETH/BTC"],
                            "ema_rsi_cross", "BTC", "0.05")
        if cooldown:
            risk = s.risk.model_dump()
            risk["protections"] = [{"method": "CooldownPeriod",
                                    "stop_duration_candles": cooldown}]
            s = s.model_copy(update={"risk": RiskSettings(**risk)})
        eng = await replay_live(s, ["ETH/BTC"], start_ms=start, end_ms=end)
        rows = live_rows(eng)
        eng.sessions.engine.dispose()
        counts[cooldown] = len(rows)
        if cooldown:
            for a, b in itertools.pairwise(rows):
                assert a.close_ms is not None
                assert b.open_ms >= a.close_ms + cooldown * 300_000 - 300_000, (a, b)
    assert counts[0] > counts[24] > 0
