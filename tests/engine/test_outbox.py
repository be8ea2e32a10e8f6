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


class _Err(Exception):
    def __init__(self, text: str, **attrs: object) -> None:
        super().__init__(text)
        for k, v in attrs.items():
            setattr(self, k, v)


class Scripted:
    """Raises the scripted errors in turn, then records what it got."""

    def __init__(self, name: str, errors: list[Exception]) -> None:
        self.name, self.errors, self.got = name, list(errors), []

    async def send(self, message: M) -> str | None:
        if self.errors:
            raise self.errors.pop(0)
        self.got.append(message.payload["job"])
        return None


def test_classify() -> None:
    import httpx

    from engine.outbox import classify

    assert classify(_Err("Forbidden: bot was blocked by the user", status=403)) == (
        "permanent", 0.0)
    assert classify(_Err("Bad Request: chat not found"))[0] == "permanent"
    assert classify(_Err("flood", retry_after=timedelta(seconds=7))) == ("retry_after", 7.0)
    assert classify(_Err("flood", retry_after=3)) == ("retry_after", 3.0)
    assert classify(_Err("bad gateway", status=502))[0] == "transient"
    assert classify(httpx.ReadTimeout("slow"))[0] == "transient"
    assert classify(ConnectionError("down"))[0] == "transient"
    assert classify(_Err("refused", permanent=True))[0] == "permanent"


async def test_permanent_error_fails_once_and_the_queue_moves_on(sessions, clock) -> None:
    _alerts(sessions, clock, 3)
    n = Scripted("tg", [_Err("Forbidden: bot was blocked by the user", status=403)])
    d = OutboxDispatcher(sessions, [n], clock)
    assert await d.drain() == 2
    assert n.got == ["j1", "j2"]
    with sessions() as s:
        rows = s.exec(select(OutboxDelivery).order_by(OutboxDelivery.outbox_id)).all()
        assert [r.state for r in rows] == [DeliveryState.FAILED, DeliveryState.DELIVERED,
                                           DeliveryState.DELIVERED]
        assert rows[0].attempts == 1 and "permanent" in (rows[0].last_error or "")


async def test_flood_wait_is_honoured_and_spends_no_attempt(sessions, clock) -> None:
    _alerts(sessions, clock, 2)
    n = Scripted("tg", [_Err("Too Many Requests", retry_after=5.0)] * 10)
    d = OutboxDispatcher(sessions, [n], clock, max_attempts=2)
    for _ in range(10):
        assert await d.drain() == 0  # never delivered before retry_after, never given up
        clock.advance(seconds=5)
    n.errors.clear()
    assert await d.drain() == 2 and n.got == ["j0", "j1"]
    with sessions() as s:
        assert {r.attempts for r in s.exec(select(OutboxDelivery)).all()} == {1}


def test_ensure_deliveries_is_bounded_and_catches_late_commits(sessions, clock) -> None:
    """Each pass looks at the ids above the newest delivery row (minus a lookback), not
    at the whole outbox; a row committed late below that newest id still gets one."""
    import engine.outbox as ob

    _alerts(sessions, clock, 30)
    d = OutboxDispatcher(sessions, [Flaky("a")], clock)
    assert d.ensure_deliveries(batch=7) == 30  # in batches, all of them
    assert d.ensure_deliveries() == 0
    with sessions.begin() as s:  # an id that "committed late": its row is missing
        row = s.exec(select(OutboxDelivery).order_by(OutboxDelivery.outbox_id)).all()[-3]
        s.delete(row)
    assert d.ensure_deliveries() == 1
    statements: list[str] = []
    from sqlalchemy import event

    @event.listens_for(sessions.engine, "before_cursor_execute")
    def grab(conn, cursor, statement, *a) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    d.ensure_deliveries()
    scan = [st for st in statements if "NOT (EXISTS" in st or "NOT EXISTS" in st]
    assert scan and all("outbox.id >" in st for st in scan), scan  # bounded by the id
    assert ob.LOOKBACK >= 100
