"""The bus, the same tests on both implementations: channels fan out (and may lose),
streams deliver each entry to one consumer of a group, keep it pending until acked,
and hand a dead consumer's entries to another."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.bus import BusError, EventBus, decode, encode, make_bus, market_data, trade_updates
from engine.bus.memory import InMemoryBus
from engine.events import BreakerTripped, OrderFilled, ProposalCreated

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _events() -> list:
    return [
        ProposalCreated(ts_event=T0, proposal_id=7, bot="main", symbol="BTC/USDT", side="buy",
                        intent="enter", amount=Decimal("0.012345678901234567"),
                        ref_price=Decimal("65000.5"), notional=Decimal("802.47"),
                        stop_price=None, reasons=["ema cross", "sentiment +0.4"],
                        expires_at=T0, needs_approval=True),
        OrderFilled(ts_event=T0, order_id=3, client_order_id="st-3", trade_key="t1",
                    symbol="ETH/USDT", side="sell", amount=Decimal("1.5"),
                    price=Decimal("3000.25"), fee=Decimal("0.0045"), order_state="filled",
                    realized_pnl=Decimal("-12.5")),
        BreakerTripped(ts_event=T0, risk_event_id=4, rule="drawdown", action="pause",
                       measured=11.2, threshold=10.0, until=T0, scope="all"),
    ]


def test_every_event_survives_the_wire_exactly() -> None:
    for ev in _events():
        raw = encode(ev)
        assert decode(raw) == ev
        assert b'"v":1' in raw and type(ev).__name__.encode() in raw


def test_unknown_versions_and_types_are_refused_by_name() -> None:
    with pytest.raises(BusError, match="version 2"):
        decode(b'{"v":2,"type":"OrderFilled","data":{}}')
    with pytest.raises(BusError, match="FancyEvent"):
        decode(b'{"v":1,"type":"FancyEvent","data":{}}')
    with pytest.raises(BusError, match="not a bus message"):
        decode(b"\x00garbage")


def test_the_factory() -> None:
    assert isinstance(make_bus(""), InMemoryBus)
    with pytest.raises(BusError, match="redis://"):
        make_bus("http://localhost:6379")


async def _collect(bus: EventBus, pattern: str, n: int, out: list) -> None:
    async for ch, data in bus.subscribe(pattern):
        if data != b"ping":
            out.append((ch, data))
            if len(out) == n:
                return


async def test_channels_fan_out_to_matching_subscribers(bus: EventBus) -> None:
    every: list = []
    btc: list = []
    tasks = [asyncio.create_task(_collect(bus, "market_data:*", 2, every)),
             asyncio.create_task(_collect(bus, market_data("btc/usdt"), 1, btc))]
    for _ in range(200):  # until both subscriptions are live
        if await bus.publish(market_data("BTC/USDT"), b"ping") == 2:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("subscriptions never became live")
    await bus.publish(market_data("ETH/USDT"), b"eth-candle")
    await bus.publish(market_data("BTC/USDT"), b"btc-candle")
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert every == [("market_data:ETH/USDT", b"eth-candle"),
                     ("market_data:BTC/USDT", b"btc-candle")]
    assert btc == [("market_data:BTC/USDT", b"btc-candle")]


async def test_a_dead_consumers_entries_go_to_another(bus: EventBus) -> None:
    stream = trade_updates(1)
    ids = [await bus.append(stream, f"e{i}".encode()) for i in range(20)]
    assert ids == sorted(ids, key=lambda x: tuple(int(p) for p in x.split("-")))
    a = await bus.read_group(stream, "engine", "worker-a", count=10, block_ms=100)
    assert [e.data for e in a] == [f"e{i}".encode() for i in range(10)]
    assert await bus.ack(stream, "engine", *[e.id for e in a[:5]]) == 5
    # worker-a dies holding e5..e9
    await asyncio.sleep(0.2)
    claimed = await bus.claim_stale(stream, "engine", "worker-b", min_idle_ms=150)
    assert [e.data for e in claimed] == [f"e{i}".encode() for i in range(5, 10)]
    assert all(e.deliveries == 2 for e in claimed)
    rest = await bus.read_group(stream, "engine", "worker-b", count=100, block_ms=100)
    assert [e.data for e in rest] == [f"e{i}".encode() for i in range(10, 20)]
    assert await bus.pending(stream, "engine") == 15
    await bus.ack(stream, "engine", *[e.id for e in claimed + rest])
    assert await bus.pending(stream, "engine") == 0
    assert await bus.claim_stale(stream, "engine", "worker-b", min_idle_ms=0) == []
    # acknowledged entries never come back; a second group still reads everything
    assert await bus.read_group(stream, "engine", "worker-b", block_ms=50) == []
    chat = await bus.read_group(stream, "chat", "c1", count=100, block_ms=100)
    assert len(chat) == 20


async def test_consumers_of_one_group_share_the_work(bus: EventBus) -> None:
    stream = "system_events"
    for i in range(30):
        await bus.append(stream, str(i).encode())
    a = await bus.read_group(stream, "g", "a", count=12, block_ms=100)
    b = await bus.read_group(stream, "g", "b", count=100, block_ms=100)
    assert len(a) == 12 and len(b) == 18
    assert {e.id for e in a}.isdisjoint({e.id for e in b})


async def test_a_blocked_reader_wakes_on_append(bus: EventBus) -> None:
    stream = "bot_signals:9"
    await bus.read_group(stream, "g", "a", block_ms=10)  # creates the group
    reader = asyncio.create_task(bus.read_group(stream, "g", "a", block_ms=3000))
    await asyncio.sleep(0.1)
    await bus.append(stream, b"signal")
    got = await asyncio.wait_for(reader, 5)
    assert [e.data for e in got] == [b"signal"]


async def test_an_unreachable_redis_is_one_line_without_the_password() -> None:
    bus = make_bus("redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(BusError) as e:
        await bus.append("system_events", b"x")
    assert "hunter2" not in str(e.value) and "\n" not in str(e.value)
    await bus.close()
