"""/status names each traded series' market regime (issue 17: regime in /status)."""

from __future__ import annotations

from collections.abc import Callable

from commands import dispatch
from commands.base import Ctx
from tests.chat.fake_api import FakeEngine


async def test_status_lists_the_regimes(ctx_for: Callable[[str], Ctx], engine: FakeEngine) -> None:
    ctx = ctx_for("viewer")
    assert "Market:" not in (await dispatch(ctx, "status", [])).text  # none known yet
    engine.regimes = {"BTC/USDT 5m": "trending", "ETH/USDT 5m": "volatile"}
    text = (await dispatch(ctx, "status", [])).text
    assert "Market: BTC/USDT 5m trending · ETH/USDT 5m volatile" in text
