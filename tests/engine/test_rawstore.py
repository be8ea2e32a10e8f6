"""Raw market-data messages in the database for audit: batched writes, pruning by age,
the collector's archive, and a streaming service storing what the exchange sent (the
loopback Binance fakes) when ``[collector] raw_retention_hours`` is set."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from engine.data.collector import DataCollector
from engine.data.live import ServiceFeed
from engine.data.rawstore import RawArchive, pack, read_raw, unpack
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import RawMessage
from tests.engine.test_stream import until
from tests.fakes.binance_ws import FakeBinanceWS
from tests.fakes.exchange_server import FakeBinance

H = 3_600_000


def _rows(url: str) -> list[RawMessage]:
    with SessionFactory(make_engine(url))() as s:
        return list(s.exec(select(RawMessage).order_by(RawMessage.id)).all())  # type: ignore[arg-type]


def _messages(url: str) -> list[tuple[int, str, Any]]:
    return list(read_raw(make_engine(url), datetime(2000, 1, 1, tzinfo=UTC)))


def test_batches_are_written_and_pruned_by_age(db_url: str) -> None:
    now = [1_759_312_800_000]
    t0 = now[0]
    a = RawArchive(make_engine(db_url), retention_hours=2, batch=3, now_ms=lambda: now[0])
    a.on_raw("tape", '{"e":"trade","t":1}')
    assert a.flush() == 1
    now[0] += 2 * H + 1
    a.on_raw("ccxt", {"e": "trade", "t": 2, "p": "100.5"})
    a.on_raw("tape", b'{"e":"trade","t":3}')
    a.on_raw("ccxt", {"e": "trade", "t": 4})
    assert a._wake.is_set()  # a full batch wakes the writer
    assert a.flush() == 3 and a.written == 4
    rows = _rows(db_url)  # one row per provider and batch
    assert [(r.provider, r.count) for r in rows] == [("tape", 1), ("ccxt", 2), ("tape", 1)]
    assert _messages(db_url) == [
        (t0, "tape", '{"e":"trade","t":1}'),
        (now[0], "ccxt", '{"e":"trade","t":2,"p":"100.5"}'),  # a parsed object: its JSON
        (now[0], "ccxt", '{"e":"trade","t":4}'),
        (now[0], "tape", '{"e":"trade","t":3}')]
    assert a.prune() == 1  # the first batch is 2 h + 1 ms old
    assert [m[2] for m in _messages(db_url)][-1] == '{"e":"trade","t":3}'
    assert len(_messages(db_url)) == 3 and a.flush() == 0
    # a time window reads the messages inside it only
    since = datetime.fromtimestamp(now[0] / 1000, UTC)
    assert len(list(read_raw(make_engine(db_url), since, provider="ccxt"))) == 2


def test_a_full_buffer_drops_the_oldest_never_blocks(db_url: str) -> None:
    a = RawArchive(make_engine(db_url), retention_hours=1, batch=2, max_buffer=5)
    for i in range(9):
        a.on_raw("tape", str(i))
    assert a.dropped == 4 and a.flush() == 5
    assert [m[2] for m in _messages(db_url)] == ["4", "5", "6", "7", "8"]
    with pytest.raises(ValueError):
        RawArchive(make_engine(db_url), retention_hours=0)


def test_any_text_comes_back_as_it_was_sent() -> None:
    odd = ['{"a":\n1}', '"quoted"', "", "plain", '{"e":"x"}']
    arrivals, payload = pack([1, 2, 3, 4, 5], odd)
    assert unpack(arrivals, payload) == list(zip([1, 2, 3, 4, 5], odd, strict=True))


async def test_the_background_writer_packs_in_slices_losslessly(db_url: str) -> None:
    a = RawArchive(make_engine(db_url), retention_hours=1, flush_s=0.05, slice_n=2)
    a.start()
    sent = ['{"a":\n1}', '"q"', "x", {"e": 1}, "y"]
    now = int(time.time() * 1000)  # the writer prunes by the real clock
    for k, m in enumerate(sent):
        a.add(now + k, "tape", m)
    await until(lambda: a.written == 5, "the background write")
    await a.close()
    assert [(m[0], m[2]) for m in _messages(db_url)] == [
        (now, '{"a":\n1}'), (now + 1, '"q"'), (now + 2, "x"), (now + 3, '{"e":1}'),
        (now + 4, "y")]


async def test_the_collector_archives_its_raw_messages(db_url: str) -> None:
    a = RawArchive(make_engine(db_url), retention_hours=1, flush_s=0.05)
    c = DataCollector(("1m",), archive=a)
    await c.start_collection(["BTC/USDT"], names=[])
    c.on_raw("tape", '{"t":1}')
    await until(lambda: a.written == 1, "the background write")
    c.on_raw("tape", '{"t":2}')
    await c.stop()  # writes what is left
    assert [m[2] for m in _messages(db_url)] == ['{"t":1}', '{"t":2}']
    assert len(c.raw) == 2  # the in-memory store keeps its own copy


async def test_a_streaming_service_stores_what_the_exchange_sent(
        engine_factory: Any, db_url: str) -> None:
    rest = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    ws = FakeBinanceWS()
    await rest.start()
    await ws.start()
    eng: Engine = await engine_factory(
        exchange={"mode": "paper", "stream": True, "api_url": rest.url, "ws_url": ws.url,
                  "book_depth": 0},
        collector={"raw_retention_hours": 24, "raw_flush_seconds": 0.05})
    sf = ServiceFeed(eng.settings)
    try:
        await sf.client.load_markets()
        sf.attach(eng)
        await until(lambda: ws.subscribed("btcusdt@trade"), "the trade subscription")
        now = int(time.time() * 1000)
        await ws.trade("BTCUSDT", 100.0, 1.0, now)
        await ws.trade("BTCUSDT", 100.5, 2.0, now + 1)
        assert sf.archive is not None
        await until(lambda: sf.archive is not None and sf.archive.written == 2, "the rows")
    finally:
        await sf.close()
        await ws.stop()
        await rest.stop()
    payloads = [json.loads(m[2]) for m in _messages(db_url)]
    assert [(p["e"], p["s"], p["p"], p["q"]) for p in payloads] == [
        ("trade", "BTCUSDT", "100.00000000", "1.00000000"),
        ("trade", "BTCUSDT", "100.50000000", "2.00000000")]
