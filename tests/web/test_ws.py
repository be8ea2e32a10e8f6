"""WebSockets over a real uvicorn server: pushes from the engine's commits, heartbeat,
token checks, and a slow client dropped without stalling the engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from engine.data.candles import Bar
from engine.events import ProposalCreated, record
from engine.storage.models import Proposal
from tests.web.conftest import Service, build_service
from web.server import ApiServer


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Service, ApiServer]]:
    s, clients = await build_service(tmp_path, ws_heartbeat_seconds=0.3, ws_queue_size=8)
    server = ApiServer(s.eng, s.ctx.settings, ctx=s.ctx)
    await server.start()
    try:
        yield s, server
    finally:
        await server.stop()
        for c in clients:
            await c.aclose()
        await s.eng.close()


async def _open(server: ApiServer, path: str, token: str, first: bool = True
                ) -> ClientConnection:
    url = f"ws://127.0.0.1:{server.port}{path}"
    if not first:
        return await connect(f"{url}?token={token}")
    ws = await connect(url)
    await ws.send(json.dumps({"token": token}))
    return ws


async def _next(ws: ClientConnection, want: str, timeout: float = 5.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic())))
        if m["type"] == want:
            return m  # type: ignore[no-any-return]


async def test_status_pushes_proposal_and_fill(live: tuple[Service, ApiServer]) -> None:
    svc, server = live
    ws = await _open(server, "/ws/bot/main/status", svc.tokens["viewer"])
    snap = await _next(ws, "snapshot")
    assert snap["pending"] == [] and snap["bots"][0]["name"] == "main"
    pid = await svc.propose()
    ev = await _next(ws, "event")
    assert ev["kind"] == "proposal" and ev["data"]["proposal_id"] == pid
    await svc.eng.approve(pid, "api:test")
    kinds = set()
    while "fill" not in kinds:
        kinds.add((await _next(ws, "event"))["kind"])
    assert "proposal_decided" in kinds
    await ws.close()


async def test_rolled_back_facts_are_never_pushed(live: tuple[Service, ApiServer]) -> None:
    svc, server = live
    ws = await _open(server, "/ws/bot/all/status", svc.tokens["viewer"], first=False)
    await _next(ws, "snapshot")
    now = svc.eng.clock.now()
    with pytest.raises(RuntimeError), svc.eng.sessions.begin() as s:
        p = Proposal(symbol="BTC/USDT", side="buy", amount=Decimal(1), ref_price=Decimal(1),
                     notional=Decimal(1), created_at=now, expires_at=now + timedelta(hours=1))
        s.add(p)
        s.flush()
        record(s, ProposalCreated(ts_event=now, proposal_id=p.id or 0, bot="main",
                                  symbol="BTC/USDT", side="buy", intent="enter",
                                  amount=Decimal(1), ref_price=Decimal(1), notional=Decimal(1),
                                  stop_price=None, reasons=[], expires_at=now,
                                  needs_approval=True))
        raise RuntimeError("crash before commit")
    beat = await _next(ws, "heartbeat", timeout=2.0)  # only the heartbeat comes
    assert beat["ts"] > 0
    await ws.close()


async def test_market_and_portfolio_follow_the_engine(live: tuple[Service, ApiServer]) -> None:
    svc, server = live
    market = await _open(server, "/ws/market/BTC-USDT", svc.tokens["viewer"])
    assert (await _next(market, "snapshot"))["symbol"] == "BTC/USDT"
    pf = await _open(server, "/ws/portfolio/all", svc.tokens["viewer"])
    assert (await _next(pf, "portfolio"))["open_trades"] == []
    pid = await svc.propose()
    await svc.eng.approve(pid, "api:test")
    held = await _next(pf, "portfolio")
    assert [t["symbol"] for t in held["open_trades"]] == ["BTC/USDT"]
    ts = svc.eng.clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    await svc.eng.on_bar(Bar("BTC/USDT", "5m", ts, 60000, 60500, 59900, 60400, 3.0))
    bar = await _next(market, "bar")
    assert bar["c"] == 60400 and bar["t"] == ts.timestamp()
    moved = await _next(pf, "portfolio")
    assert Decimal(moved["open_trades"][0]["last_price"]) == Decimal("60400")
    await market.close()
    await pf.close()


async def test_bad_token_closes_4401(live: tuple[Service, ApiServer]) -> None:
    svc, server = live
    for first in (True, False):
        ws = await _open(server, "/ws/bot/all/status", "st_wrong", first=first)
        with pytest.raises(ConnectionClosed) as e:
            while True:
                await ws.recv()
        assert e.value.rcvd is not None and e.value.rcvd.code == 4401
    ws = await _open(server, "/ws/bot/nobot/status", svc.tokens["viewer"])
    with pytest.raises(ConnectionClosed) as e:
        while True:
            await ws.recv()
    assert e.value.rcvd is not None and e.value.rcvd.code == 4404


async def test_slow_client_dropped_engine_never_waits(live: tuple[Service, ApiServer]) -> None:
    svc, server = live
    slow = await _open(server, "/ws/market/BTC-USDT", svc.tokens["viewer"])
    fast = await _open(server, "/ws/market/BTC-USDT", svc.tokens["viewer"])
    await _next(slow, "snapshot")
    await _next(fast, "snapshot")
    await asyncio.sleep(0.1)
    subs = list(svc.ctx.hub.subscribers)
    assert len(subs) == 2
    # the slow one's task is not scheduled between these publishes: its queue (8) fills
    t0 = time.perf_counter()
    for i in range(50):
        svc.ctx.hub.publish({"type": "bar", "symbol": "BTC/USDT", "t": float(i), "c": 1.0})
    took = time.perf_counter() - t0
    assert took < 0.05  # publishing never waits on a client
    assert all(s.dropped for s in subs)  # both fell 8 behind within one loop turn
    with pytest.raises(ConnectionClosed) as e:
        while True:
            await slow.recv()
    assert e.value.rcvd is not None and e.value.rcvd.code == 1013
    assert svc.ctx.hub.dropped == 2
    # a client that keeps up is not dropped
    ok = await _open(server, "/ws/market/BTC-USDT", svc.tokens["viewer"])
    await _next(ok, "snapshot")
    for i in range(30):
        svc.ctx.hub.publish({"type": "bar", "symbol": "BTC/USDT", "t": float(i), "c": 1.0})
        assert (await _next(ok, "bar"))["t"] == float(i)
    assert not any(s.dropped for s in svc.ctx.hub.subscribers)
    await ok.close()


async def test_a_failing_observer_never_fails_the_engine() -> None:
    """The hub's session hooks swallow their own errors: the engine's commit goes on."""
    from sqlalchemy import create_engine
    from sqlmodel import Session, SQLModel

    from engine.storage.models import OutboxMessage
    from web.hub import Hub

    db = create_engine("sqlite://")
    SQLModel.metadata.create_all(db)
    hub = Hub(db)
    hub.publish = None  # type: ignore[assignment,method-assign]  # broken: not callable
    with Session(db) as s, s.begin():
        s.add(OutboxMessage(event_id="e1", kind="proposal", payload={}))
    with Session(db) as s:
        assert s.get(OutboxMessage, 1) is not None  # committed all the same
