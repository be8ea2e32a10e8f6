"""Crash safety: SIGKILL the service during a replay that fills orders, restart it, and
require the end state to equal an uninterrupted run's, field by field.

Two kinds of kill, both real SIGKILLs of a forked copy of this process (a fork starts in
milliseconds where a fresh interpreter takes seconds, so many kills fit in CI):

- every commit boundary: each child SIGKILLs itself right after its first committed
  write, the next child resumes from there; the chain visits every commit of the run
  (and of its recoveries) as a crash point;
- random: a timer kills the child at a random moment (start-up, recovery and
  mid-transaction included).

Compared with the uninterrupted reference: signals, proposals, orders, fills, trades,
balances, equity snapshots, risk events, bots and the outbox (messages and
deliveries), every column; surrogate ids are compared by rank (Postgres sequences
skip values a killed transaction took), the alerts' random event ids, wall-clock
`ts_init` and the destination's answer (`external_ref`, see DROP) are left out. Invariants: no fill before its order, no execution before its
decision, no duplicate order, fill or alert line.

Long runs: SENTITRADE_CRASH_TRIALS (random trials, default 5), SENTITRADE_CRASH_KILLS
(kills per trial, default 10), SENTITRADE_CRASH_STEPS (random trials' candles, default
200), SENTITRADE_CRASH_EDGE_STEPS (the every-commit chain's candles, default 100),
SENTITRADE_CRASH_SEED.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.storage.db import make_engine
from tests.engine.crash_child import main as child_main

CHILD_LIMIT_S = 120
TRIALS = int(os.environ.get("SENTITRADE_CRASH_TRIALS", "5"))
KILLS = int(os.environ.get("SENTITRADE_CRASH_KILLS", "10"))
STEPS = int(os.environ.get("SENTITRADE_CRASH_STEPS", "200"))
EDGE_STEPS = int(os.environ.get("SENTITRADE_CRASH_EDGE_STEPS", "100"))
TABLES = ("bots", "signals", "proposals", "trades", "orders", "fills", "balances",
          "equity_snapshots", "risk_events", "outbox", "outbox_deliveries")
# references to other tables' ids, compared by rank
FKS = {"signal_id": "signals", "trade_id": "trades", "proposal_id": "proposals",
       "order_id": "orders", "outbox_id": "outbox", "bot_id": "bots",
       "risk_event_id": "risk_events"}
# left out: the wall-clock time an alert was written, and what the destination answered
# (a resend after a kill between a send and its DELIVERED mark is answered "dup" by the
# destination's own de-duplication: the invariants check it holds each alert once)
DROP = {"outbox": {"created_at"}, "outbox_deliveries": {"external_ref"}}
IDS_IN_TEXT = [(re.compile(r"st-p(\d+)"), "proposals", "st-p{}"),
               (re.compile(r"proposal #(\d+)"), "proposals", "proposal #{}"),
               (re.compile(r"trade #(\d+)"), "trades", "trade #{}"),
               (re.compile(r"^proposal:(\d+)$"), "proposals", "proposal:{}"),
               (re.compile(r"^decided:(\d+)$"), "proposals", "decided:{}"),
               (re.compile(r"^fill:(\d+):"), "orders", "fill:{}:"),
               (re.compile(r"^canceled:(\d+)$"), "orders", "canceled:{}"),
               (re.compile(r"^failed:(\d+)$"), "orders", "failed:{}"),
               (re.compile(r"^breaker:(\d+)$"), "risk_events", "breaker:{}"),
               (re.compile(r"^cleared:(\d+)$"), "risk_events", "cleared:{}")]


# ---------------------------------------------------------------- running children
def _fork(url: str, alerts: Path, steps: int, data: Path, err: Path, *,
          after_commits: int | None = None, after_s: float | None = None) -> bool:
    """Run the service in a forked child; True if it finished, False if SIGKILLed."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        signal.alarm(CHILD_LIMIT_S)  # a hung child dies (SIGALRM) instead of hanging CI
        try:
            asyncio.run(child_main(url, alerts, steps, "run", data,
                                   kill_after_commits=after_commits, kill_after_s=after_s))
            code = 0
        except BaseException:
            err.write_text(traceback.format_exc())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, f"child died of signal {os.WTERMSIG(status)}"
        return False
    assert os.WEXITSTATUS(status) == 0, err.read_text()[-3000:] if err.exists() else status
    return True


Urls = Callable[[str, str | None], str]


@contextmanager
def _databases(kind: str, tmp: Path) -> Iterator[Urls]:
    """`url(name, template)`: a fresh database of `kind` (an SQLite file or a Postgres
    database), a copy of database `template` when given (cheaper than migrating)."""
    if kind == "sqlite":
        def path(n: str) -> Path:
            return tmp / f"{n}.db"

        def sqlite_url(n: str, template: str | None = None) -> str:
            if template is not None:
                for suffix in ("", "-wal"):
                    src = Path(f"{path(template)}{suffix}")
                    if src.exists():
                        shutil.copyfile(src, f"{path(n)}{suffix}")
            return f"sqlite:///{path(n)}"

        yield sqlite_url
        return
    base = os.environ.get("SENTITRADE_TEST_PG_URL")
    if not base:
        pytest.skip("SENTITRADE_TEST_PG_URL not set")
    admin = sa.create_engine(make_engine(base).url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def pg_url(n: str, template: str | None = None) -> str:
        name = f"st_crash_{os.getpid()}_{n}"
        copy = f' TEMPLATE "st_crash_{os.getpid()}_{template}"' if template else ""
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
        made.append(name)
        return make_engine(base).url.set(database=name).render_as_string(hide_password=False)

    try:
        yield pg_url
    finally:
        with admin.connect() as c:
            for n in made:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
        admin.dispose()


def _sample(tmp: Path, steps: int) -> Path:
    from tests.engine.test_loop import _short_sample

    data = tmp / f"data{steps}"
    data.mkdir(exist_ok=True)
    _short_sample(data, steps)
    return data


# ---------------------------------------------------------------- the state, normalised
def _dump(url: str) -> dict[str, list[dict[str, Any]]]:
    eng = make_engine(url)
    meta = sa.MetaData()
    meta.reflect(eng, only=list(TABLES))
    raw: dict[str, list[dict[str, Any]]] = {}
    with eng.connect() as c:
        for t in TABLES:
            table = meta.tables[t]
            raw[t] = [dict(r._mapping) for r in c.execute(sa.select(table).order_by(table.c.id))]
    eng.dispose()
    rank = {t: {r["id"]: i + 1 for i, r in enumerate(rows)} for t, rows in raw.items()}

    def ids_in(text: str) -> str:
        for rx, table, fmt in IDS_IN_TEXT:
            text = rx.sub(lambda m, t=table, f=fmt: f.format(  # type: ignore[misc]
                "r" + str(rank[t].get(int(m.group(1)), "?" + m.group(1)))), text)
        return text

    def norm(v: Any, key: str = "") -> Any:
        if key in FKS and isinstance(v, int):
            return "r" + str(rank[FKS[key]].get(v, f"?{v}"))
        if isinstance(v, str):
            return ids_in(v)
        if isinstance(v, dict):
            return {k: norm(x, k) for k, x in v.items() if k not in ("event_id", "ts_init")}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, datetime):
            return v.isoformat()
        return v

    out: dict[str, list[dict[str, Any]]] = {}
    for t, rows in raw.items():
        drop = {"id", "event_id"} | DROP.get(t, set())
        out[t] = [{k: norm(v, k) for k, v in r.items() if k not in drop} for r in rows]
    # a delivery row's own id means nothing (the dispatcher sends in outbox order), and
    # the dispatcher creates missing ones in the order the database lists them
    out["outbox_deliveries"].sort(key=lambda r: (int(r["outbox_id"][1:]), r["destination"]))
    return out


def _differences(got: dict[str, list[dict[str, Any]]],
                 ref: dict[str, list[dict[str, Any]]]) -> list[str]:
    diffs: list[str] = []
    for t in TABLES:
        if len(got[t]) != len(ref[t]):
            diffs.append(f"{t}: {len(got[t])} rows, reference {len(ref[t])}")
        for i, (a, b) in enumerate(zip(got[t], ref[t], strict=False)):
            for k in b:
                if a.get(k) != b[k]:
                    diffs.append(f"{t}[{i + 1}].{k}: {a.get(k)!r} != reference {b[k]!r}")
    return diffs


def _invariants(url: str, alerts: Path) -> dict[str, int]:
    """Fills never before their order, executions never before their decision, no
    duplicates anywhere; returns the duplicate counts (all 0 when it passes)."""
    eng = make_engine(url)
    with eng.connect() as c:
        early = c.execute(sa.text(
            "SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id "
            "WHERE f.ts < o.created_at")).scalar_one()
        backwards = c.execute(sa.text(
            "SELECT count(*) FROM proposals WHERE executed_at < decided_at "
            "OR decided_at < created_at")).scalar_one()
        dup_orders = c.execute(sa.text(
            "SELECT count(*) - count(DISTINCT proposal_id) FROM orders")).scalar_one()
        dup_fills = c.execute(sa.text(
            "SELECT count(*) - count(DISTINCT order_id || ':' || trade_key) FROM fills")
        ).scalar_one()
        event_ids = set(c.execute(sa.text("SELECT event_id FROM outbox")).scalars())
        undelivered = c.execute(sa.text(
            "SELECT count(*) FROM outbox_deliveries WHERE state <> 'delivered'")).scalar_one()
    eng.dispose()
    lines = [json.loads(x)["event_id"] for x in alerts.read_text().splitlines() if x.strip()]
    counts = Counter(lines)
    assert early == 0, f"{early} fills before their order's creation"
    assert backwards == 0, f"{backwards} proposals executed before decided (or decided before made)"
    assert undelivered == 0
    assert set(counts) == event_ids, "alert lines and outbox rows differ"
    dups = {"orders": dup_orders, "fills": dup_fills,
            "alert_lines": sum(n - 1 for n in counts.values())}
    assert not any(dups.values()), dups
    return dups


# ---------------------------------------------------------------- the scenarios
class Run:
    """One database kind: the uninterrupted reference, then killed trials against it."""

    def __init__(self, url: Urls, tmp: Path, steps: int) -> None:
        self.url, self.tmp, self.steps = url, tmp, steps
        self.data = _sample(tmp, steps)
        asyncio.run(child_main(url("init", None), tmp / "init.jsonl", steps, "init", None))
        ref = url(f"ref{steps}", "init")
        alerts = tmp / f"ref{steps}.jsonl"
        self.commits = [0]
        t0 = time.perf_counter()
        asyncio.run(child_main(ref, alerts, steps, "run", self.data, commits=self.commits))
        self.seconds = time.perf_counter() - t0
        _invariants(ref, alerts)
        self.ref = _dump(ref)
        assert len(self.ref["fills"]) >= 4, "too few fills to test anything: raise the steps"

    def trial(self, name: str, kill: Callable[[int], dict[str, Any]],
              max_kills: int) -> int:
        """Init a database, run killed children (kill(i) = the i-th child's switches)
        until one finishes or `max_kills` were killed, finish, compare; the kills."""
        url = self.url(name, "init")  # the bots made and b2 paused, as for the reference
        alerts, err = self.tmp / f"{name}.jsonl", self.tmp / f"{name}.err"
        kills, t0 = 0, time.perf_counter()
        while kills < max_kills and not _fork(url, alerts, self.steps, self.data, err,
                                              **kill(kills)):
            kills += 1
        if kills == max_kills:
            assert _fork(url, alerts, self.steps, self.data, err), "no progress after restarts"
        t1 = time.perf_counter()
        _invariants(url, alerts)
        diffs = _differences(_dump(url), self.ref)
        print(f"{name}: {kills} kills, {t1 - t0:.1f} s, compare {time.perf_counter() - t1:.1f} s")
        assert not diffs, f"{name}: {len(diffs)} field differences after {kills} kills:\n" \
                          + "\n".join(diffs[:30])
        return kills


def _every_commit(kind: str, tmp: Path) -> None:
    with _databases(kind, tmp) as url:
        run = Run(url, tmp, EDGE_STEPS)
        kills = run.trial("edges", lambda i: {"after_commits": 1}, 2 * run.commits[0] + 20)
    print(f"\n[{kind}] every commit boundary: {kills} kills (the uninterrupted run makes "
          f"{run.commits[0]} writing commits), 0 field differences, 0 duplicates")
    assert kills >= run.commits[0]


def _random_kills(kind: str, tmp: Path) -> None:
    seed = int(os.environ.get("SENTITRADE_CRASH_SEED", str(time.time_ns() % 100_000)))
    rng = random.Random(seed)
    with _databases(kind, tmp) as url:
        run = Run(url, tmp, STEPS)
        # a random commit of the next stretch, then a random few milliseconds more:
        # mostly mid-transaction or mid-candle; one kill in four lands in start-up and
        # recovery instead (a random time from the start). KILLS such kills cross a run.
        stretch = max(2, 2 * run.commits[0] // KILLS)

        def kill(i: int) -> dict[str, Any]:
            if rng.random() < 0.25:
                return {"after_s": rng.uniform(0.0, 0.3)}
            return {"after_commits": rng.randint(1, stretch), "after_s": rng.uniform(0, 0.01)}

        total = trials = 0
        while total < TRIALS * KILLS and trials < 2 * TRIALS:  # a child may finish early
            total += run.trial(f"rnd{trials}_seed{seed}", kill, KILLS)
            trials += 1
    print(f"\n[{kind}] random kills (seed {seed}): {trials} trials, {total} kills, "
          f"0 field differences, 0 duplicates")
    assert total >= TRIALS * KILLS


@pytest.mark.slow
def test_kill_at_every_commit_sqlite(tmp_path: Path) -> None:
    _every_commit("sqlite", tmp_path)


@pytest.mark.slow
def test_random_kills_sqlite(tmp_path: Path) -> None:
    _random_kills("sqlite", tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_at_every_commit_postgres(tmp_path: Path) -> None:
    _every_commit("postgres", tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_random_kills_postgres(tmp_path: Path) -> None:
    _random_kills("postgres", tmp_path)
