"""Period reports count back from the engine's clock: in a replay of last spring,
/daily shows last spring's days and /profit 7 last spring's week, not today's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from commands import dispatch
from commands.base import Ctx
from engine.storage.models import Trade
from tests.chat.fake_api import FakeEngine


async def test_reports_use_the_replay_clock(ctx_for: Callable[[str], Ctx],
                                            engine: FakeEngine) -> None:
    replay_now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    engine.clock_now = replay_now
    with engine.sessions.begin() as s:
        for days, pnl in ((0, "5"), (1, "-2"), (30, "9")):
            s.add(Trade(symbol="BTC/USDT", is_open=False, amount=Decimal(1),
                        open_price=Decimal(100), close_price=Decimal(101),
                        close_at=replay_now - timedelta(days=days), realized_pnl=Decimal(pnl)))
    ctx = ctx_for("viewer")
    daily = (await dispatch(ctx, "daily", ["2"])).text
    assert "2025-03-10" in daily and "2025-03-09" in daily
    assert "+5.00" in daily and "-2.00" in daily
    week = (await dispatch(ctx, "profit", ["7"])).text
    assert "over 2 trades" in week  # the month-old trade is outside the replay's week
