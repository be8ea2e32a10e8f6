"""The LLM budget alert the README promises: the scorer's hook becomes one alert a day
in the outbox (not only a log line), and the service's news poll passes the hook."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from engine.service.scheduler import _news_poller
from engine.storage.models import OutboxMessage


async def test_the_budget_hook_records_one_alert_a_day(engine_factory: Any) -> None:
    eng = await engine_factory()
    eng.operator_alert("daily token budget (500000) spent; scoring falls back to lexicon")
    eng.operator_alert("daily token budget (500000) spent; scoring falls back to lexicon")
    with eng.sessions() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "error")).all()
    assert len(rows) == 1
    assert "budget" in rows[0].payload["text"] and rows[0].payload["type"] == "OperatorNotice"


async def test_the_news_poll_gets_the_hook(engine_factory: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    eng = await engine_factory()
    seen: dict[str, Any] = {}

    async def fake_poll(sessions: Any, settings: Any, **kw: Any) -> int:
        seen.update(kw)
        kw["alert"]("daily request budget (500) spent")
        return 0

    import engine.data.news as news

    monkeypatch.setattr(news, "poll", fake_poll)
    run = _news_poller(eng)
    assert run is not None
    await run()
    assert seen["alert"] == eng.operator_alert
    assert seen["market_context"] == eng.market_context  # the LLM scorer's market view
    with eng.sessions() as s:
        texts = [m.payload["text"] for m in s.exec(select(OutboxMessage)).all()]
    assert any("request budget" in t for t in texts)
