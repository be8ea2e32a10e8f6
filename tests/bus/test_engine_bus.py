"""With ``[bus] url`` set, the engine's outbox delivers every committed alert to the
Redis streams, exactly once per alert, readable by another process's consumer group."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from engine.backtest._paths import shared_data
from engine.bus import decode, make_bus
from engine.bus.notifier import ALERTS
from engine.storage.config import BusSettings
from engine.storage.models import OutboxDelivery, OutboxMessage
from tests.engine.parity import parity_settings, replay_live

TESTDATA = shared_data() / "ohlcv" / "freqtrade_testdata"


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared data not found")
async def test_every_alert_reaches_the_bus_once(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/2"
    import redis.asyncio as aredis

    r = aredis.from_url(url)
    await r.flushdb()
    pairs = ["ETH/BTC"]
    settings = parity_settings(f"sqlite:///{tmp_path / 'e.db'}", TESTDATA, pairs,
                               "ema_rsi_cross", "BTC", "0.05")
    settings = settings.model_copy(update={"bus": BusSettings(url=url)})
    start = 1_515_560_100_000  # the first candle of the test data (2018-01-10)
    eng = await replay_live(settings, pairs, start_ms=start, end_ms=start + 3 * 86_400_000)
    with eng.sessions() as s:
        alerts = s.exec(select(func.count()).select_from(OutboxMessage)).one()
        to_bus = s.exec(select(OutboxDelivery).where(OutboxDelivery.destination == "bus")).all()
    eng.sessions.engine.dispose()
    assert alerts > 10  # proposals, decisions and fills of a few days
    assert len(to_bus) == alerts and all(d.state == "delivered" for d in to_bus)
    assert await r.xlen(ALERTS) == alerts
    bus = make_bus(url)
    got = await bus.read_group(ALERTS, "chat", "c1", count=10_000, block_ms=100)
    events = [decode(e.data) for e in got]
    assert len({e.event_id for e in events}) == alerts  # each alert once
    kinds = {type(e).__name__ for e in events}
    assert {"ProposalCreated", "OrderFilled"} <= kinds
    assert await r.xlen("trade_updates:parity") > 0
    await bus.close()
    await r.aclose()
