"""Transactional outbox: written with the fact, drained in order, retried with backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from engine.events import JobFailed, OrderFailed, ProposalRejected, record
from engine.outbox import JsonlNotifier, OutboxDispatcher
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage
from engine.storage.models import OutboxMessage as M


class Flaky:
    """Fails the first `fail` sends, then records what it got."""

    def __init__(self, name: str, fail: int = 0) -> None:
        self.name, self.fail, self.got = name, fail, []

    async def send(self, message: M) -> str | None:
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionError("chat API down")
        self.got.append(message.payload["job"])
        return f"msg-{len(self.got)}"


def _alerts(sessions: SessionFactory, clock, n: int) -> None:
    for i in range(n):
        with sessions.begin() as s:
            record(s, JobFailed(ts_event=clock.now(), job=f"j{i}", error="x"))


@pytest.fixture
def sessions(db_url: str) -> SessionFactory:
    return SessionFactory(make_engine(db_url))


def test_rolled_back_fact_has_no_alert(sessions, clock) -> None:
    with pytest.raises(RuntimeError), sessions.begin() as s:
        record(s, JobFailed(ts_event=clock.now(), job="a", error="b"))
        raise RuntimeError("the fill failed to book")
    with sessions() as s:
        assert s.exec(select(OutboxMessage)).all() == []


def test_dedup_key_records_a_fact_once(sessions, clock) -> None:
    for _ in range(2):
        with sessions.begin() as s:
            record(s, ProposalRejected(ts_event=clock.now(), proposal_id=7, by="x"))
    with sessions() as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 1


async def test_order_per_destination_and_backoff(sessions, clock) -> None:
    _alerts(sessions, clock, 3)
    good, bad = Flaky("good"), Flaky("bad", fail=2)
    d = OutboxDispatcher(sessions, [good, bad], clock, base_backoff_s=2)
    assert await d.drain() == 3  # good got all three, bad none (first one failing)
    assert good.got == ["j0", "j1", "j2"] and bad.got == []
    assert await d.drain() == 0  # retry not yet due
    clock.advance(seconds=2)
    assert await d.drain() == 0  # second failure -> backoff doubles to 4 s
    with sessions() as s:
        row = s.exec(select(OutboxDelivery).where(OutboxDelivery.destination == "bad")
                     .order_by(OutboxDelivery.outbox_id)).first()
        assert row is not None and row.attempts == 2
        assert row.next_attempt_at == clock.now() + timedelta(seconds=4)
        assert "chat API down" in (row.last_error or "")
    clock.advance(seconds=4)
    assert await d.drain() == 3
    assert bad.got == ["j0", "j1", "j2"]  # still in order
    with sessions() as s:
        rows = s.exec(select(OutboxDelivery)).all()
        assert {r.state for r in rows} == {DeliveryState.DELIVERED}
        assert {r.external_ref for r in rows if r.destination == "bad"} == {
            "msg-1", "msg-2", "msg-3"}
    assert await d.drain() == 0


async def test_gives_up_after_max_attempts(sessions, clock) -> None:
    _alerts(sessions, clock, 1)
    d = OutboxDispatcher(sessions, [Flaky("dead", fail=99)], clock, max_attempts=3,
                         base_backoff_s=1)
    for _ in range(5):
        await d.drain()
        clock.advance(seconds=60)
    with sessions() as s:
        row = s.exec(select(OutboxDelivery)).one()
        assert row.state == DeliveryState.FAILED and row.attempts == 3


async def test_jsonl_notifier_drops_a_resend(sessions, clock, tmp_path) -> None:
    with sessions.begin() as s:
        record(s, OrderFailed(ts_event=clock.now(), order_id=1, client_order_id="c",
                              symbol="BTC/USDT", reason="r"))
    path = tmp_path / "a.jsonl"
    n = JsonlNotifier(path)
    d = OutboxDispatcher(sessions, [n], clock)
    await d.drain()
    with sessions.begin() as s:  # simulate a crash before the delivered mark
        for r in s.exec(select(OutboxDelivery)).all():
            r.state = DeliveryState.PENDING
    await OutboxDispatcher(sessions, [JsonlNotifier(path)], clock).drain()
    assert len(path.read_text().splitlines()) == 1
