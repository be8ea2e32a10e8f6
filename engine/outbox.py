"""Where alerts go: the notifier interface, the console and JSONL notifiers, and the
outbox dispatcher that delivers every recorded event exactly once per destination, in
order, retrying with backoff (`engine.events` records them in the writer's transaction).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlmodel import col, select

from engine.clock import Clock, SystemClock
from engine.events import RECORDED
from engine.storage.db import SessionFactory
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage

__all__ = ["ConsoleNotifier", "JsonlNotifier", "Notifier", "OutboxDispatcher"]

log = logging.getLogger("sentitrade.outbox")


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

    def ensure_deliveries(self) -> int:
        """Give every outbox row a delivery row for each current notifier (a notifier
        added after an alert was written still gets it). Returns rows added."""
        added = 0
        with self.sessions.begin() as s:
            for name in self.notifiers:
                have = select(OutboxDelivery.outbox_id).where(OutboxDelivery.destination == name)
                missing = s.exec(select(OutboxMessage.id).where(
                    col(OutboxMessage.id).not_in(have))).all()
                for mid in missing:
                    assert mid is not None
                    s.add(OutboxDelivery(outbox_id=mid, destination=name,
                                         next_attempt_at=self.clock.now()))
                    added += 1
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
                        if retry is not None and (self._retry_at is None or retry < self._retry_at):
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
        with self.sessions.begin() as s:
            row = s.get(OutboxDelivery, delivery_id)
            if row is None:
                return None
            row.attempts += 1
            row.last_error = f"{type(err).__name__}: {err}"[:500]
            if row.attempts >= self.max_attempts:
                row.state = DeliveryState.FAILED
                log.error("alert %s to %s given up after %d attempts: %s", row.outbox_id,
                          row.destination, row.attempts, row.last_error)
            else:
                row.next_attempt_at = now + self.backoff(row.attempts)
                log.warning("alert %s to %s failed (attempt %d): %s", row.outbox_id,
                            row.destination, row.attempts, row.last_error)
                return row.next_attempt_at
        return None
