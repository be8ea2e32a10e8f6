"""Domain events and the transactional outbox that turns them into alerts.

An event is a past-tense fact (`ProposalCreated`, `OrderFilled`, `BreakerTripped`) with
an id and two timestamps: `ts_event` (when it happened, on the engine clock) and
`ts_init` (when this process saw it). `record(session, event)` writes the outbox row in
the caller's transaction, so an alert exists if and only if the fact it reports was
committed: a fill is never booked without its alert and an alert never announces a fill
that rolled back.

`OutboxDispatcher` drains the outbox to notifiers. Each (alert, destination) pair has
its own `OutboxDelivery` row; a destination receives its alerts strictly in outbox
order (a failing alert holds back the later ones for that destination only, so a chat
never sees "filled" before "proposed"). Failed sends retry with exponential backoff
and give up after `max_attempts` (state FAILED, kept for audits).

Delivery is at-least-once from the outbox's point of view (a crash between a send and
the DB update re-sends); each send carries the alert's `event_id` so that a destination
can drop a repeat: `JsonlNotifier` does, which makes delivery exactly-once end to end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.clock import Clock, SystemClock
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage

log = logging.getLogger("sentitrade.events")

__all__ = [
    "BreakerCleared",
    "BreakerTripped",
    "ConsoleNotifier",
    "DailySummary",
    "DomainEvent",
    "JobFailed",
    "JsonlNotifier",
    "Notifier",
    "OrderCanceled",
    "OrderFailed",
    "OrderFilled",
    "OutboxDispatcher",
    "ProposalApproved",
    "ProposalCreated",
    "ProposalExpired",
    "ProposalRejected",
    "ReconciliationMismatch",
    "record",
]


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _short(x: Decimal) -> str:
    """A money value for a person: 10 significant digits, no trailing zeros (the exact
    value stays in the event's fields)."""
    return f"{float(x):.10g}"


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event: `kind` is the alert type chat transports switch on."""

    kind: ClassVar[str] = "event"
    ts_event: datetime
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    ts_init: datetime = field(default_factory=utcnow)

    def payload(self) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["type"] = type(self).__name__
        return out

    def dedup_key(self) -> str | None:
        """Same fact recorded twice (replay, retry) -> one alert. None = always new."""
        return None

    def text(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class ProposalCreated(DomainEvent):
    kind: ClassVar[str] = "proposal"
    proposal_id: int
    bot: str
    symbol: str
    side: str
    intent: str
    amount: Decimal
    ref_price: Decimal
    notional: Decimal
    stop_price: Decimal | None
    reasons: list[str]
    expires_at: datetime
    needs_approval: bool

    def dedup_key(self) -> str:
        return f"proposal:{self.proposal_id}"

    def text(self) -> str:
        ask = "approve?" if self.needs_approval else "auto-approved"
        return (f"proposal #{self.proposal_id} [{self.bot}] {self.intent} {self.side} "
                f"{_short(self.amount)} {self.symbol} @ {_short(self.ref_price)} "
                f"(~{self.notional:.2f}) - "
                f"{ask}; {'; '.join(self.reasons)}")


@dataclass(frozen=True, kw_only=True)
class _Decided(DomainEvent):
    kind: ClassVar[str] = "proposal_decided"
    proposal_id: int
    by: str
    note: str = ""

    def dedup_key(self) -> str:
        return f"decided:{self.proposal_id}"

    def text(self) -> str:
        verb = type(self).__name__.removeprefix("Proposal").lower()
        return f"proposal #{self.proposal_id} {verb} by {self.by} {self.note}".rstrip()


@dataclass(frozen=True, kw_only=True)
class ProposalApproved(_Decided):
    pass


@dataclass(frozen=True, kw_only=True)
class ProposalRejected(_Decided):
    pass


@dataclass(frozen=True, kw_only=True)
class ProposalExpired(_Decided):
    pass


@dataclass(frozen=True, kw_only=True)
class ProposalRefused(_Decided):
    """Approval was asked but re-validation (drift, risk) refused it."""


@dataclass(frozen=True, kw_only=True)
class OrderFilled(DomainEvent):
    kind: ClassVar[str] = "fill"
    order_id: int
    client_order_id: str
    trade_key: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    order_state: str
    realized_pnl: Decimal | None = None

    def dedup_key(self) -> str:
        return f"fill:{self.order_id}:{self.trade_key}"

    def text(self) -> str:
        pnl = f" pnl {self.realized_pnl:+.2f}" if self.realized_pnl is not None else ""
        return (f"filled {self.side} {_short(self.amount)} {self.symbol} @ {_short(self.price)} "
                f"(fee {self.fee}, order {self.client_order_id} {self.order_state}){pnl}")


@dataclass(frozen=True, kw_only=True)
class OrderCanceled(DomainEvent):
    kind: ClassVar[str] = "order_canceled"
    order_id: int
    client_order_id: str
    symbol: str
    reason: str

    def dedup_key(self) -> str:
        return f"canceled:{self.order_id}"

    def text(self) -> str:
        return f"order {self.client_order_id} {self.symbol} canceled: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class OrderFailed(DomainEvent):
    kind: ClassVar[str] = "order_failed"
    order_id: int
    client_order_id: str
    symbol: str
    reason: str

    def dedup_key(self) -> str:
        return f"failed:{self.order_id}"

    def text(self) -> str:
        return f"order {self.client_order_id} {self.symbol} FAILED: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class BreakerTripped(DomainEvent):
    kind: ClassVar[str] = "breaker_tripped"
    risk_event_id: int
    rule: str
    action: str
    measured: float
    threshold: float
    until: datetime | None
    scope: str = ""

    def dedup_key(self) -> str:
        return f"breaker:{self.risk_event_id}"

    def text(self) -> str:
        until = f" until {self.until:%Y-%m-%d %H:%M} UTC" if self.until else ""
        return (f"CIRCUIT BREAKER {self.rule}: {self.measured:.2f} > {self.threshold:.2f} "
                f"-> {self.action}{until} {self.scope}").rstrip()


@dataclass(frozen=True, kw_only=True)
class BreakerCleared(DomainEvent):
    kind: ClassVar[str] = "breaker_cleared"
    risk_event_id: int
    rule: str
    by: str

    def dedup_key(self) -> str:
        return f"cleared:{self.risk_event_id}"

    def text(self) -> str:
        return f"breaker {self.rule} cleared by {self.by}"


@dataclass(frozen=True, kw_only=True)
class DailySummary(DomainEvent):
    kind: ClassVar[str] = "daily_summary"
    day: str
    equity: Decimal
    realized_pnl: Decimal
    trades_closed: int
    open_trades: int

    def dedup_key(self) -> str:
        return f"daily:{self.day}"

    def text(self) -> str:
        return (f"daily summary {self.day}: equity {self.equity:.2f}, realized "
                f"{self.realized_pnl:+.2f} over {self.trades_closed} trades, "
                f"{self.open_trades} open")


@dataclass(frozen=True, kw_only=True)
class JobFailed(DomainEvent):
    kind: ClassVar[str] = "error"
    job: str
    error: str

    def text(self) -> str:
        return f"job {self.job} failed: {self.error}"


@dataclass(frozen=True, kw_only=True)
class ReconciliationMismatch(DomainEvent):
    kind: ClassVar[str] = "error"
    detail: str
    key: str

    def dedup_key(self) -> str:
        return f"recon:{self.key}"

    def text(self) -> str:
        return f"reconciliation: {self.detail}"


# ---------------------------------------------------------------- recording
RECORDED = [0]  # bumped per recorded event: lets in-process drains skip idle polls


def record(session: Session, event: DomainEvent,
           destinations: Sequence[str] | None = None) -> OutboxMessage | None:
    """Write `event` to the outbox in the caller's transaction (plus one delivery row
    per destination given; the dispatcher adds rows for its notifiers before each
    drain). Returns None when the same fact was already recorded (dedup)."""
    key = event.dedup_key()
    if key is not None:
        existing = session.exec(select(OutboxMessage).where(OutboxMessage.dedup_key == key)).first()
        if existing is not None:
            return None
    RECORDED[0] += 1
    payload = event.payload()
    payload["text"] = event.text()
    msg = OutboxMessage(event_id=event.event_id, kind=event.kind, payload=payload,
                        dedup_key=key, ts_event=event.ts_event, created_at=event.ts_init)
    session.add(msg)
    session.flush()
    assert msg.id is not None
    for dest in destinations or ():
        session.add(OutboxDelivery(outbox_id=msg.id, destination=dest,
                                   next_attempt_at=event.ts_init))
    return msg


# ---------------------------------------------------------------- notifiers
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


def is_unique_violation(e: IntegrityError) -> bool:
    return "unique" in str(e.orig).lower() or "duplicate" in str(e.orig).lower()
