"""The service process the crash tests kill: a replay over the sample that fills orders.

Usage: python crash_child.py DB_URL ALERTS.jsonl STEPS {init|run} [DATA_DIR]
`init` creates the bots and pauses `b2`; `run` replays the first STEPS candle steps
(resuming after a kill) with auto approvals and a low entry threshold so that many
orders fill.

Kill switches (for enumerating crash points cheaply, without guessing times):
`SENTITRADE_CRASH_AFTER_COMMITS=N` makes the process SIGKILL itself right after its
N-th committed transaction that wrote something (the database has the commit, nothing
after it ran); `SENTITRADE_CRASH_AFTER_S=X` SIGKILLs it X seconds after it started (or
after that N-th commit when both are set), wherever it is (mid-transaction included). `tests/engine/test_crash.py` sets the same
two through `main`'s arguments in forked children.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine

from engine.clock import ManualClock
from engine.data.feeds import ReplayFeed
from engine.outbox import JsonlNotifier
from engine.service.engine import Engine
from engine.service.replay import run_replay
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade

# sentiment_fusion with low thresholds: many orders fill in a short replay
LOW = {"entry_threshold": 0.2, "exit_threshold": 0.1}
DML = ("INSERT", "UPDATE", "DELETE")


def settings(url: str) -> Settings:
    return Settings(
        database={"url": url},  # type: ignore[arg-type]
        exchange={"mode": "replay", "slippage_bps": 5},  # type: ignore[arg-type]
        approvals={"mode": "auto"},  # type: ignore[arg-type]
        risk={"max_open_trades": 10},  # type: ignore[arg-type]
        bots=[{"name": "b1", "symbols": ["BTC/USDT", "ETH/USDT"],  # type: ignore[list-item]
               "params": LOW},
              {"name": "b2", "symbols": ["ETH/USDT"], "params": LOW}],
    )


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def count_commits(engine: SAEngine, on_commit: Any) -> None:
    """Call `on_commit(n)` right after the n-th COMMIT (reaching the database) of a
    transaction that wrote (INSERT/UPDATE/DELETE); read-only commits do not count."""
    seen = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _mark(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:6].upper() in DML:
            conn.info["wrote"] = True

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.info["wrote"] = False

    flagged: set[int] = set()  # pooled connections whose coming COMMIT ends a write

    @event.listens_for(engine, "commit")
    def _flag(conn: Any) -> None:
        # fires just before the driver's commit: hand the flag to `do_commit`
        if conn.info.get("wrote"):
            flagged.add(id(conn.connection))

    dialect = engine.dialect
    real_commit = dialect.do_commit

    def do_commit(dbapi_conn: Any) -> None:
        real_commit(dbapi_conn)
        if id(dbapi_conn) in flagged:
            flagged.discard(id(dbapi_conn))
            seen[0] += 1
            on_commit(seen[0])

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]


def arm(engine: SAEngine, after_commits: int | None, after_s: float | None) -> None:
    """Install the kill switches (see the module doc). With both, the timer starts at
    the `after_commits`-th commit: a random moment that still lies past a given point
    of the run however fast the machine is."""
    def timer() -> None:
        t = threading.Timer(after_s or 0.0, _die)
        t.daemon = True
        t.start()

    if after_commits is not None:
        def reached(n: int) -> None:
            if n == after_commits:
                _die() if after_s is None else timer()

        count_commits(engine, reached)
    elif after_s is not None:
        timer()


async def main(url: str, alerts: Path, steps: int, mode: str, data: Path | None, *,
               kill_after_commits: int | None = None, kill_after_s: float | None = None,
               commits: list[int] | None = None) -> bool:
    """Init or run; True when the replay ran to its end. `commits[0]` counts the
    writing commits when given."""
    upgrade(url)
    st = settings(url)
    clock = ManualClock()
    sessions = SessionFactory(make_engine(url))
    arm(sessions.engine, kill_after_commits, kill_after_s)
    if commits is not None:
        count_commits(sessions.engine, lambda n: commits.__setitem__(0, n))
    eng = Engine(st, sessions, clock=clock, notifiers=[JsonlNotifier(alerts)])
    try:
        await eng.start(reconcile=False)
        if mode == "init":
            await eng.pause_bot("b2", "test")
            return True
        await _replay(eng, clock, steps, data)
        return True
    finally:
        sessions.engine.dispose()


async def _replay(eng: Engine, clock: ManualClock, steps: int, data: Path | None) -> None:
    print("READY", flush=True)  # the parent's kill timer starts here
    feed = ReplayFeed(data, ["BTC/USDT", "ETH/USDT"], "5m", clock)
    feed.candles = {k: v._take(slice(0, steps)) for k, v in feed.candles.items()}
    await run_replay(eng, feed, save_every=5)
    print("DONE", flush=True)


if __name__ == "__main__":
    data = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    n = os.environ.get("SENTITRADE_CRASH_AFTER_COMMITS")
    x = os.environ.get("SENTITRADE_CRASH_AFTER_S")
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], data,
                     kill_after_commits=int(n) if n else None,
                     kill_after_s=float(x) if x else None))
