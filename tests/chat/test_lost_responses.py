"""A send whose response is lost is resent at most once: never five copies in a chat."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.notifier import IN_FLIGHT, Destination, Notifier, unknown_outcomes
from commands.reply import Reply
from engine.storage import migrate
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage


class _Api:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def get_proposal(self, _pid: int) -> Any:
        return None


class _Sink:
    transport = "fake"

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.sent: list[str] = []

    def destinations(self) -> list[Destination]:
        return [Destination("fake:1", "1")]

    async def send(self, dest: Destination, reply: Reply) -> str:
        if not isinstance(self.error, httpx.ConnectError):
            self.sent.append(reply.text)  # the platform took it...
        if self.error is not None:
            raise self.error  # ...but the answer never came back
        return str(len(self.sent))

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None:
        pass


@pytest.fixture
def sessions(tmp_path: Path) -> SessionFactory:
    url = f"sqlite:///{tmp_path}/n.db"
    migrate.upgrade(url)
    sf = SessionFactory(make_engine(url))
    with sf.begin() as s:
        s.add(OutboxMessage(event_id="e1", kind="fill",
                            payload={"side": "buy", "symbol": "BTC/USDT", "amount": "1"}))
    return sf


def _delivery(sf: SessionFactory) -> OutboxDelivery:
    with sf() as s:
        rows = list(s.exec(select(OutboxDelivery)).all())
    assert len(rows) == 1
    return rows[0]


async def _drain(n: Notifier, times: int) -> None:
    for _ in range(times):
        await n.run_once()


@pytest.mark.parametrize("error", [httpx.ReadTimeout("lost"), TimeoutError("lost"),
                                   httpx.RemoteProtocolError("peer closed")])
def test_lost_response_resent_at_most_once(sessions: SessionFactory, error: Exception) -> None:
    sink = _Sink(error)
    n = Notifier(_Api(sessions), [sink], backoff_base=0.0)  # type: ignore[arg-type]
    asyncio.run(_drain(n, 6))
    assert len(sink.sent) == 2  # the first send and ONE resend
    d = _delivery(sessions)
    assert d.state == DeliveryState.FAILED and "not resent" in (d.last_error or "")


def test_nothing_sent_is_retried_as_before(sessions: SessionFactory) -> None:
    sink = _Sink(httpx.ConnectError("refused"))
    n = Notifier(_Api(sessions), [sink], backoff_base=0.0)  # type: ignore[arg-type]
    asyncio.run(_drain(n, 5))
    d = _delivery(sessions)
    assert d.state == DeliveryState.PENDING and d.attempts == 5
    sink.error = None
    asyncio.run(_drain(n, 1))
    assert len(sink.sent) == 1 and _delivery(sessions).state == DeliveryState.DELIVERED


def test_crash_mid_send_counts_as_unknown(sessions: SessionFactory) -> None:
    sink = _Sink(None)
    n = Notifier(_Api(sessions), [sink], backoff_base=0.0)  # type: ignore[arg-type]
    n.plan()
    with sessions.begin() as s:  # a previous process died in flight after one lost answer
        row = s.exec(select(OutboxDelivery)).one()
        row.last_error = f"{IN_FLIGHT} since then [unknown outcomes=1]"
    assert unknown_outcomes(f"{IN_FLIGHT} since then [unknown outcomes=1]") == 2
    asyncio.run(_drain(n, 2))
    assert sink.sent == [] and _delivery(sessions).state == DeliveryState.FAILED
    with sessions.begin() as s:  # died in flight on the first send: one resend is allowed
        row = s.exec(select(OutboxDelivery)).one()
        row.state, row.last_error = DeliveryState.PENDING, f"{IN_FLIGHT} since then"
    asyncio.run(_drain(n, 2))
    assert len(sink.sent) == 1 and _delivery(sessions).state == DeliveryState.DELIVERED
