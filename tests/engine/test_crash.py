"""Crash safety: SIGKILL the service at random moments of a replay that fills orders,
restart it, and check nothing was placed twice, lost or announced twice.

Compared with an uninterrupted reference run on its own database, the killed-and-
restarted run must reach the same signals and the same orders (client ids); its
books must balance (wallet == starting balance + the effect of every fill booked).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from engine.execution.paper import MONEY_STEP
from engine.storage.db import make_engine
from engine.storage.models import (
    Balance,
    Bot,
    DeliveryState,
    Fill,
    Order,
    OrderState,
    OutboxDelivery,
    OutboxMessage,
    Signal,
)
from tests.engine.crash_child import main as child_main

CHILD = Path(__file__).with_name("crash_child.py")
STEPS = 500
ROOT = Path(__file__).resolve().parents[2]


def _run(url: str, alerts: Path, mode: str, kill_after: float | None = None,
         data: Path | None = None) -> bool:
    """Run the child; SIGKILL it `kill_after` s after it reports READY (engine started,
    replay about to run). True if it finished on its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(CHILD), url, str(alerts), str(STEPS), mode]
    proc = subprocess.Popen(args + ([str(data)] if data else []),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until READY (or exit)
        if line.strip() == "READY":
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                return False
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return "DONE" in out or mode == "init"


def _facts(url: str) -> dict[str, object]:
    eng = make_engine(url)
    with Session(eng) as s:
        orders = s.exec(select(Order)).all()
        fills = s.exec(select(Fill)).all()
        out = {
            "signals": sorted((sg.bot_id, sg.symbol, sg.ts.isoformat(), sg.direction)
                              for sg in s.exec(select(Signal)).all()),
            "orders": sorted((o.client_order_id, o.side, o.state) for o in orders),
            "n_fills": len(fills),
            "bots": {b.name: b.state for b in s.exec(select(Bot)).all()},
            "balances": {b.asset: b.free + b.locked for b in s.exec(select(Balance)).all()},
            "orders_by_proposal": Counter(o.proposal_id for o in orders),
            "fills_by_order": {o.id: (o.filled, o.amount, o.state) for o in orders},
            "fill_rows": [(f.order_id, f.amount, f.price, f.fee) for f in fills],
            "order_side": {o.id: (o.side, o.symbol) for o in orders},
            "messages": {m.event_id: m.kind for m in s.exec(select(OutboxMessage)).all()},
            "undelivered": s.exec(select(func.count()).select_from(OutboxDelivery).where(
                OutboxDelivery.state != DeliveryState.DELIVERED)).one(),
        }
    eng.dispose()
    return out


def _crash_and_check(url: str, ref_url: str, tmp: Path) -> None:
    from tests.engine.test_loop import _short_sample

    alerts, ref_alerts = tmp / "alerts.jsonl", tmp / "ref.jsonl"
    data = tmp / "data"
    data.mkdir()
    _short_sample(data, STEPS)
    # the reference run and the setup happen in this process (no start-up cost)
    asyncio.run(child_main(ref_url, ref_alerts, STEPS, "init", None))
    asyncio.run(child_main(ref_url, ref_alerts, STEPS, "run", data))
    asyncio.run(child_main(url, alerts, STEPS, "init", None))
    rng = random.Random(int(os.environ.get("CRASH_SEED", time.time_ns() % 10_000)))
    kills = 0
    deadline = time.monotonic() + 90
    finished = False
    while not finished and time.monotonic() < deadline:
        finished = _run(url, alerts, "run", data=data,
                        kill_after=rng.uniform(0.05, 2.0) if kills < 3 else None)
        kills += 0 if finished else 1
    assert finished, "the service never completed the replay after restarts"
    assert kills >= 1, "the child finished before any kill: raise STEPS"
    got, ref = _facts(url), _facts(ref_url)

    # no duplicate orders
    assert max(got["orders_by_proposal"].values()) == 1  # type: ignore[attr-defined]
    assert len({o[0] for o in got["orders"]}) == len(got["orders"])  # type: ignore[arg-type]
    # same decisions as the uninterrupted run
    assert got["signals"] == ref["signals"]
    assert got["orders"] == ref["orders"]
    assert got["n_fills"] == ref["n_fills"] and got["n_fills"] > 10
    # no lost fill: every order's fills add up, and the wallet is exactly the fills' effect
    per_order: dict[int, Decimal] = {}
    wallet: dict[str, Decimal] = {"USDT": Decimal("10000")}
    for oid, amount, price, fee in got["fill_rows"]:  # type: ignore[attr-defined]
        per_order[oid] = per_order.get(oid, Decimal(0)) + amount
        side, symbol = got["order_side"][oid]  # type: ignore[index]
        base = symbol.split("/")[0]
        sign = 1 if side == "buy" else -1
        wallet[base] = wallet.get(base, Decimal(0)) + sign * amount
        wallet["USDT"] -= sign * (amount * price).quantize(MONEY_STEP) + fee
    for oid, (filled, _amount, state) in got["fills_by_order"].items():  # type: ignore[attr-defined]
        assert state in (OrderState.FILLED, OrderState.CANCELED, OrderState.FAILED)
        assert per_order.get(oid, Decimal(0)) == filled
    for asset, value in got["balances"].items():  # type: ignore[attr-defined]
        assert value == wallet.get(asset, Decimal(0)), asset
    # every alert delivered exactly once
    assert got["undelivered"] == 0
    lines = [json.loads(x) for x in alerts.read_text().splitlines() if x.strip()]
    ids = Counter(x["event_id"] for x in lines)
    assert set(ids) == set(got["messages"])  # type: ignore[arg-type]
    assert max(ids.values()) == 1
    assert Counter(got["messages"].values()) == Counter(ref["messages"].values())  # type: ignore[attr-defined]
    # bots back in their states
    assert got["bots"] == {"b1": "running", "b2": "paused"}


@pytest.mark.slow
def test_sigkill_sqlite(tmp_path: Path) -> None:
    _crash_and_check(f"sqlite:///{tmp_path / 'crash.db'}", f"sqlite:///{tmp_path / 'ref.db'}",
                     tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_postgres(tmp_path: Path) -> None:
    base = os.environ.get("SENTITRADE_TEST_PG_URL")
    if not base:
        pytest.skip("SENTITRADE_TEST_PG_URL not set")
    admin = sa.create_engine(make_engine(base).url, isolation_level="AUTOCOMMIT")
    names = [f"st_crash_{os.getpid()}", f"st_crash_ref_{os.getpid()}"]
    with admin.connect() as c:
        for n in names:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}"'))
            c.execute(sa.text(f'CREATE DATABASE "{n}"'))
    try:
        urls = [make_engine(base).url.set(database=n).render_as_string(hide_password=False)
                for n in names]
        _crash_and_check(urls[0], urls[1], tmp_path)
    finally:
        with admin.connect() as c:
            for n in names:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
        admin.dispose()
