"""Shared fixtures: a migrated temp database, a manual clock and an Engine on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade

T0 = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def make_settings(url: str, **sections: dict[str, object]) -> Settings:
    data: dict[str, object] = {"database": {"url": url},
                               "exchange": {"mode": "replay", "slippage_bps": 0},
                               "bots": [{"name": "b1", "symbols": ["BTC/USDT", "ETH/USDT"],
                                         "timeframe": "5m"}]}
    for k, v in sections.items():
        base = data.get(k)
        data[k] = {**base, **v} if isinstance(base, dict) and isinstance(v, dict) else v
    return Settings(**data)  # type: ignore[arg-type]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    upgrade(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def engine_factory(db_url: str, clock: ManualClock) -> AsyncIterator[object]:
    made: list[Engine] = []

    async def build(**sections: dict[str, object]) -> Engine:
        settings = make_settings(db_url, **sections)
        eng = Engine(settings, SessionFactory(make_engine(db_url)), clock=clock,
                     notifiers=[ConsoleNotifier()])
        await eng.start()
        made.append(eng)
        return eng

    yield build
    for e in made:
        await e.close()
        e.sessions.engine.dispose()
