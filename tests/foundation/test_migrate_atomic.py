"""A kill during the very first `upgrade` leaves no schema or a complete one, never half.

The migrating child is forked from a warmed-up test process (imports and Alembic's
script directory loaded once), so each trial costs tens of milliseconds: every SQL
statement of the first upgrade gets its own kill, then random-time kills follow.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.storage import migrate
from engine.storage.db import make_engine
from engine.storage.models import ALL_TABLES

SCHEMA = set(ALL_TABLES.tables)


def _fork(target: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            target()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


def _kill_at_statement(url: str, n: int) -> Callable[[], None]:
    def child() -> None:
        seen = [0]

        def hook(*_a: object, **_k: object) -> None:
            seen[0] += 1
            if seen[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)

        event.listen(Engine, "before_cursor_execute", hook)
        event.listen(Engine, "commit", hook)  # the final COMMIT counts as a statement too
        migrate.upgrade(url)

    return child


def _state(url: str) -> str:
    eng = make_engine(url)
    try:
        with eng.connect() as c:
            tables = set(sa.inspect(c).get_table_names())
            version = (c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                       if "alembic_version" in tables else None)
    finally:
        eng.dispose()
    if not tables:
        return "empty"
    if tables == SCHEMA | {"alembic_version"} and version is not None:
        return "complete"
    return f"partial: {sorted(tables)} version={version}"


def _statements(url: str) -> int:
    seen = [0]

    def hook(*_a: object, **_k: object) -> None:
        seen[0] += 1

    event.listen(Engine, "before_cursor_execute", hook)
    event.listen(Engine, "commit", hook)
    try:
        migrate.upgrade(url)
    finally:
        event.remove(Engine, "before_cursor_execute", hook)
        event.remove(Engine, "commit", hook)
    return seen[0]


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return status


def _trial(url: str, child: Callable[[], None], delay: float | None = None,
           check: bool = False) -> str:
    pid = _fork(child)
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    _wait(pid)
    state = _state(url)
    assert state in ("empty", "complete"), state
    migrate.upgrade(url)  # the next start always succeeds
    assert _state(url) == "complete"
    if check:
        migrate.check(url)  # no drift: the recovered schema is the models' schema
    return state


def test_kill_at_every_statement_and_at_random_times_sqlite(tmp_path: Path) -> None:
    total = _statements(f"sqlite:///{tmp_path}/warm.db")  # warms imports and counts
    assert total > 20
    outcomes: list[str] = []
    for n in range(1, total + 1):
        url = f"sqlite:///{tmp_path}/s{n}.db"
        outcomes.append(_trial(url, _kill_at_statement(url, n), check=n == total))
    # every kill before the COMMIT finds nothing; a kill at the last statement too
    assert outcomes.count("empty") == total

    rng = random.Random(12)
    t0 = time.perf_counter()
    migrate.upgrade(f"sqlite:///{tmp_path}/timing.db")
    span = time.perf_counter() - t0
    for i in range(25):
        url = f"sqlite:///{tmp_path}/r{i}.db"
        outcomes.append(_trial(url, lambda u=url: migrate.upgrade(u),  # type: ignore[misc]
                               delay=rng.uniform(0, span * 1.5)))
    assert len(outcomes) == total + 25


def test_two_migrators_at_once_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/two.db"
    pids = [_fork(lambda: migrate.upgrade(url)) for _ in range(3)]
    statuses = [_wait(p) for p in pids]
    assert all(os.WEXITSTATUS(s) == 0 for s in statuses), statuses
    assert _state(url) == "complete"


@pytest.mark.postgres
def test_kill_during_first_upgrade_postgres(pg_url: str) -> None:
    def reset() -> None:
        eng = make_engine(pg_url)
        with eng.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()

    reset()
    total = _statements(pg_url)
    for n in [*range(1, total + 1, 6), total]:
        reset()
        _trial(pg_url, _kill_at_statement(pg_url, n))
    reset()
    pids = [_fork(lambda: migrate.upgrade(pg_url)) for _ in range(3)]
    assert all(os.WEXITSTATUS(_wait(p)) == 0 for p in pids)
    assert _state(pg_url) == "complete"
