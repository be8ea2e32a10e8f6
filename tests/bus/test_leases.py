"""Bot leases: one owner at a time, renewal, takeover after lapse, fair shares; and the
worker's paper-mode global jobs start and stop with its global lease."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.bus import make_bus
from engine.service.leases import GLOBAL, WORKER, Leases, fair_share
from engine.service.worker import EngineWorker
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from tests.engine.conftest import make_settings


@pytest.fixture
def sessions(tmp_path: Path) -> SessionFactory:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    upgrade(url)
    return SessionFactory(make_engine(url))


def test_one_owner_renewal_and_takeover(sessions: SessionFactory) -> None:
    a, b = Leases(sessions, "a", 0.3), Leases(sessions, "b", 0.3)
    assert a.try_take("bot1") and a.try_take("bot1")  # ours: taking again renews
    assert not b.try_take("bot1")
    assert a.renew(["bot1", "bot2"]) == {"bot1"}  # bot2 was never ours
    assert a.owners() == {"bot1": "a"}
    time.sleep(0.4)  # a stops renewing: the lease lapses
    assert a.owners() == {}
    assert b.try_take("bot1")
    assert a.renew(["bot1"]) == set()  # a learns it lost the bot
    b.release(["bot1"])
    assert a.try_take("bot1")


def test_live_workers_and_fair_share(sessions: SessionFactory) -> None:
    for w in ("w1", "w2", "w3"):
        assert Leases(sessions, w, 10).try_take(WORKER + w)
    assert Leases(sessions, "w1", 10).live_workers() == 3
    assert [fair_share(4, n) for n in (0, 1, 2, 3)] == [4, 4, 2, 2]
    with pytest.raises(ValueError, match="positive"):
        Leases(sessions, "x", 0)


async def test_paper_worker_runs_timed_jobs_only_with_the_global_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    settings = make_settings(url, exchange={"mode": "paper"})
    w = EngineWorker(settings, make_bus(""), "w1")
    assert w.leases.try_take(GLOBAL)
    w._set_global(True)
    assert {j.id for j in w._jobs.get_jobs()} == {"news", "expiry", "alerts", "daily_summary"}
    assert w.engine.outbox is w._drainer
    w._set_global(False)
    assert w._jobs is None and w.engine.outbox is not w._drainer
    await w.engine.close()


def test_a_split_role_needs_a_bus_and_a_shared_database(tmp_path: Path) -> None:
    from engine.errors import SentitradeError
    from engine.service.roles import check_role

    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}")
    check_role(settings, "all")
    with pytest.raises(SentitradeError, match="one of all, collector, engine, chat, api"):
        check_role(settings, "worker")
    with pytest.raises(SentitradeError, match=r"bus\.url"):
        check_role(settings, "engine")
    mem = make_settings("sqlite:///:memory:", bus={"url": "redis://127.0.0.1:6379/0"})
    with pytest.raises(SentitradeError, match="in-memory database"):
        check_role(mem, "collector")
