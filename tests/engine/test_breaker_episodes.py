"""A breaker acts once per episode: a drawdown pause that expires while equity is still
under water does not trip (and alert) again every day; a new equity peak, a new day
(daily loss) or an admin's /resume starts a new episode, and a restart remembers the
episodes since the last /resume."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.risk.checks import BreakerMonitor, episode_key
from engine.storage.config import RiskSettings
from engine.storage.models import EquitySnapshot, RiskEvent

LIM = RiskSettings(daily_loss_pct=50, drawdown_pause_pct=10, drawdown_stop_pct=30)


def test_a_drawdown_pause_trips_once_per_peak(clock: Any) -> None:
    m = BreakerMonitor(LIM)
    t = clock.now()
    m.evaluate(t, Decimal(10000), set())
    assert [x.rule for x in m.evaluate(t, Decimal(8800), set())] == ["drawdown_pause"]
    # the pause expires (no active rule) while still 12 % under the peak: daily for a month
    for day in range(1, 31):
        assert m.evaluate(t + timedelta(days=day), Decimal(8800), set()) == []
    # a new peak is a new episode
    m.evaluate(t + timedelta(days=31), Decimal(10500), set())
    assert [x.rule for x in m.evaluate(t + timedelta(days=32), Decimal(9300), set())] == [
        "drawdown_pause"]
    # worse in the same episode: the stop is its own rule and still trips once
    assert [x.rule for x in m.evaluate(t + timedelta(days=33), Decimal(7000), set())] == [
        "drawdown_stop"]
    assert m.evaluate(t + timedelta(days=34), Decimal(7000), set()) == []


def test_daily_loss_once_a_day_and_resume_starts_over(clock: Any) -> None:
    lim = RiskSettings(daily_loss_pct=5, drawdown_pause_pct=90, drawdown_stop_pct=95)
    m = BreakerMonitor(lim)
    t = clock.now().replace(hour=1)
    m.evaluate(t, Decimal(10000), set())
    assert [x.rule for x in m.evaluate(t, Decimal(9400), set())] == ["daily_loss"]
    assert m.evaluate(t + timedelta(hours=2), Decimal(9300), set()) == []  # same day
    m.reset_baselines(Decimal(9300), ["daily_loss"])  # /resume: measured from here
    assert [x.rule for x in m.evaluate(t + timedelta(hours=3), Decimal(8800), set())] == [
        "daily_loss"]
    m2 = BreakerMonitor(lim)
    m2.evaluate(t, Decimal(10000), set())
    m2.evaluate(t, Decimal(9400), set())
    m2.evaluate(t + timedelta(days=1), Decimal(9400), set())  # new day, new baseline
    assert [x.rule for x in m2.evaluate(t + timedelta(days=1, hours=1), Decimal(8900),
                                         set())] == ["daily_loss"]


async def test_a_restart_remembers_the_episode(engine_factory: Any, clock: Any) -> None:
    eng = await engine_factory(risk={"daily_loss_pct": 50, "drawdown_pause_pct": 10})
    now = clock.now()
    with eng.sessions.begin() as s:
        s.add(EquitySnapshot(ts=now - timedelta(days=3), equity=Decimal("10000.000000")))
        s.add(RiskEvent(rule="drawdown_pause", measured=12.0, threshold=10.0,
                        action="pause_entries", until=now - timedelta(days=2),
                        detail={"episode": episode_key(Decimal(10000))},
                        created_at=now - timedelta(days=3)))
    eng._rebuild_baselines()
    assert eng.monitor.evaluate(now, Decimal(8800), set()) == []
