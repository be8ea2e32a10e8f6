"""Where alerts go: the notifier interface, the console and JSONL notifiers, and the
outbox dispatcher that delivers every recorded event exactly once per destination, in
order, retrying with backoff (`engine.events` records them in the writer's transaction).

Errors are classified (`classify`): a permanent refusal (400, 401, 403, 404: chat not
found, bot blocked, bad request) fails the row at once so the chat's queue moves on; a
flood wait (429 with retry_after) waits exactly that long without spending an attempt;
anything else (timeouts, 5xx, connection errors) is transient and retried with capped
backoff until `max_attempts`. A notifier marks its own errors with an attribute:
`permanent = True`, or `retry_after` (seconds or a timedelta).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlmodel import col, func, select

from engine.clock import Clock, SystemClock
from engine.events import RECORDED
from engine.storage.db import SessionFactory
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage

__all__ = ["ConsoleNotifier", "JsonlNotifier", "Notifier", "OutboxDispatcher", "classify"]

log = logging.getLogger("sentitrade.outbox")
PERMANENT_STATUS = frozenset({400, 401, 403, 404})
_PERMANENT_TEXT = ("chat not found", "bot was blocked", "user is deactivated",
                   "forbidden", "unauthorized", "bad request")
LOOKBACK = 1000  # outbox ids below a destination's newest row re-checked for a gap


def _status(err: BaseException) -> int | None:
    for name in ("status", "status_code", "error_code", "code"):
        v = getattr(err, name, None)
        if isinstance(v, int) and 100 <= v < 600:
            return v
    resp = getattr(err, "response", None)
    v = getattr(resp, "status_code", None) or getattr(resp, "status", None)
    return v if isinstance(v, int) else None


def classify(err: BaseException) -> tuple[str, float]:
    """("permanent" | "retry_after" | "transient", seconds to wait for retry_after)."""
    ra = getattr(err, "retry_after", None)
    if isinstance(ra, timedelta):
        ra = ra.total_seconds()
    if isinstance(ra, int | float) and ra >= 0:
        return "retry_after", float(ra)
    if getattr(err, "permanent", False):
        return "permanent", 0.0
    status = _status(err)
    if status == 429:
        return "retry_after", 1.0
    if status in PERMANENT_STATUS:
        return "permanent", 0.0
    if status is None and any(t in str(err).lower() for t in _PERMANENT_TEXT):
        return "permanent", 0.0
    return "transient", 0.0


@runtime_checkable
class Notifier(Protocol):
    """A destination for alerts. `send` returns an external reference (message id) or
    None, and raises to ask for a retry. `name` must be stable across restarts."""

    name: str

    async def send(self, message: OutboxMessage) -> str | None: ...


class ConsoleNotifier:
    """Logs each alert (and optionally prints it): the console/log destination."""

    def __init__(self, name: str = "console", echo: bool = False,
                 kinds: Sequence[str] | None = None) -> None:
        self.name = name
        self.echo = echo
        self.kinds = set(kinds) if kinds else None
        self.sent: list[str] = []

    async def send(self, message: OutboxMessage) -> str | None:
        text = str(message.payload.get("text", message.kind))
        log.log(logging.DEBUG if self.echo else logging.INFO, "alert %s: %s", message.kind, text)
        if self.echo and (self.kinds is None or message.kind in self.kinds):
            print(f"[alert] {text}", flush=True)
        self.sent.append(message.event_id)
        return None


class JsonlNotifier:
    """Appends alerts to a JSON-lines file, skipping event ids it already holds.

    Used by the crash test and useful as an audit trail: the event-id check makes a
    re-send after a crash harmless, which is the receiving half of exactly-once.
    """

    def __init__(self, path: Path, name: str = "jsonl") -> None:
        self.name = name
        self.path = Path(path)
        self._seen: set[str] | None = None

    def _load(self) -> set[str]:
        if self._seen is None:
            self._seen = set()
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    try:
                        self._seen.add(json.loads(line)["event_id"])
                    except (ValueError, KeyError):
                        continue  # a torn last line from a crash
        return self._seen

    async def send(self, message: OutboxMessage) -> str | None:
        seen = self._load()
        if message.event_id in seen:
            return "dup"
        import os

        line = json.dumps({"event_id": message.event_id, "kind": message.kind,
                           "outbox_id": message.id, "text": message.payload.get("text")})
        with self.path.open("a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        seen.add(message.event_id)
        return None


class OutboxDispatcher:
    """Drains pending deliveries to their notifiers, in order per destination."""

    def __init__(self, sessions: SessionFactory, notifiers: Sequence[Notifier],
                 clock: Clock | None = None, *, max_attempts: int = 8,
                 base_backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 batch: int = 100) -> None:
        self.sessions = sessions
        self.notifiers = {n.name: n for n in notifiers}
        self.clock = clock or SystemClock()
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch = batch
        self._seen = -1
        self._retry_at: datetime | None = None

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempts - 1)))

    def ensure_deliveries(self, batch: int = 1000) -> int:
        """Give every outbox row a delivery row for each current notifier (a notifier
        added after an alert was written still gets it). Returns rows added.

        Bounded: only ids above the destination's newest delivery row minus LOOKBACK
        are looked at (with an indexed NOT EXISTS on the (outbox_id, destination) key),
        not the whole outbox each drain; the lookback catches a row whose transaction
        committed after a later id's (Postgres allocates ids before commit)."""
        added = 0
        for name in self.notifiers:
            while True:
                with self.sessions.begin() as s:
                    newest = s.exec(select(func.max(OutboxDelivery.outbox_id))
                                    .where(OutboxDelivery.destination == name)).one()
                    have = (select(OutboxDelivery.id)
                            .where(OutboxDelivery.outbox_id == OutboxMessage.id,
                                   OutboxDelivery.destination == name).exists())
                    q = select(OutboxMessage.id).where(~have)
                    if newest is not None:
                        q = q.where(col(OutboxMessage.id) > newest - LOOKBACK)
                    missing = s.exec(q.order_by(col(OutboxMessage.id)).limit(batch)).all()
                    for mid in missing:
                        assert mid is not None
                        s.add(OutboxDelivery(outbox_id=mid, destination=name,
                                             next_attempt_at=self.clock.now()))
                    added += len(missing)
                if len(missing) < batch:
                    break
        return added

    async def drain(self, *, force: bool = True) -> int:
        """Deliver what is due; returns the number delivered. Never raises for a
        notifier error (it is recorded on the delivery row and retried later).

        `force=False` skips the DB when this process recorded nothing since the last
        drain and no retry is due (the replay loop's fast path); the scheduled job
        always forces, so alerts written by other processes go out too."""
        now = self.clock.now()
        if (not force and self._seen == RECORDED[0]
                and (self._retry_at is None or now < self._retry_at)):
            return 0
        self._seen = RECORDED[0]
        self._retry_at = None
        self.ensure_deliveries()
        delivered = 0
        for name, notifier in self.notifiers.items():
            while True:
                with self.sessions() as s:
                    rows = s.exec(
                        select(OutboxDelivery, OutboxMessage)
                        .join(OutboxMessage, col(OutboxMessage.id) == OutboxDelivery.outbox_id)
                        .where(OutboxDelivery.destination == name,
                               OutboxDelivery.state == DeliveryState.PENDING)
                        .order_by(col(OutboxDelivery.outbox_id))
                        .limit(self.batch)
                    ).all()
                if not rows:
                    break
                blocked = False
                for d, m in rows:
                    if d.next_attempt_at > now:
                        if self._retry_at is None or d.next_attempt_at < self._retry_at:
                            self._retry_at = d.next_attempt_at
                        blocked = True  # keep order: nothing after it goes first
                        break
                    try:
                        ref = await notifier.send(m)
                    except Exception as e:
                        retry = self._failed(d.id, e, now)
                        if retry is None:
                            continue  # given up (permanent): the rows behind it go on
                        if self._retry_at is None or retry < self._retry_at:
                            self._retry_at = retry
                        blocked = True
                        break
                    with self.sessions.begin() as s:
                        row = s.get(OutboxDelivery, d.id)
                        if row is not None and row.state == DeliveryState.PENDING:
                            row.state = DeliveryState.DELIVERED
                            row.attempts += 1
                            row.delivered_at = now
                            row.external_ref = ref
                    delivered += 1
                if blocked or len(rows) < self.batch:
                    break
        return delivered

    def _failed(self, delivery_id: int | None, err: Exception, now: datetime) -> datetime | None:
        """Record a failed send; returns when to try again (None: given up)."""
        kind, wait = classify(err)
        with self.sessions.begin() as s:
            row = s.get(OutboxDelivery, delivery_id)
            if row is None:
                return None
            row.last_error = f"{kind}: {type(err).__name__}: {err}"[:500]
            if kind == "retry_after":  # flood control: not a failure, no attempt spent
                row.next_attempt_at = now + timedelta(seconds=wait)
                log.info("alert %s to %s: flood wait %.1fs", row.outbox_id, row.destination,
                         wait)
                return row.next_attempt_at
            row.attempts += 1
            if kind == "permanent" or row.attempts >= self.max_attempts:
                row.state = DeliveryState.FAILED
                log.error("alert %s to %s given up after %d attempt(s): %s", row.outbox_id,
                          row.destination, row.attempts, row.last_error)
                return None
            row.next_attempt_at = now + self.backoff(row.attempts)
            log.warning("alert %s to %s failed (attempt %d): %s", row.outbox_id,
                        row.destination, row.attempts, row.last_error)
            return row.next_attempt_at
