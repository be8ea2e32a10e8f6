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
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine.storage.dbtypes import utcnow
from engine.storage.models import OutboxDelivery, OutboxMessage

log = logging.getLogger("sentitrade.events")

__all__ = [
    "AccessRequested",
    "BreakerCleared",
    "BreakerTripped",
    "DailySummary",
    "DomainEvent",
    "FundingSettled",
    "JobFailed",
    "LiquidationNear",
    "OperatorNotice",
    "OrderCanceled",
    "OrderFailed",
    "OrderFilled",
    "PairLocked",
    "PositionLiquidated",
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
class OperatorNotice(DomainEvent):
    """Something the operator must act on that is not a failure of a job: the LLM
    scorer's daily budget is spent (scoring falls back), say. Once per text and day."""

    kind: ClassVar[str] = "error"
    source: str
    detail: str

    def dedup_key(self) -> str:
        return f"notice:{self.source}:{self.ts_event.date().isoformat()}:{self.detail[:80]}"

    def text(self) -> str:
        return f"{self.source}: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class AccessRequested(DomainEvent):
    """An unknown chat user asked to use the bot (/start); admins admit or block."""

    kind: ClassVar[str] = "access_request"
    user_row: int
    transport: str
    user_id: str
    name: str

    def dedup_key(self) -> str:
        return f"access:{self.transport}:{self.user_id}"

    def text(self) -> str:
        return f"{self.name} ({self.transport}:{self.user_id}) asks to use the bot"


@dataclass(frozen=True, kw_only=True)
class PairLocked(DomainEvent):
    kind: ClassVar[str] = "pair_locked"
    pair: str
    until: datetime
    rule: str
    reason: str

    def dedup_key(self) -> str:
        return f"lock:{self.rule}:{self.pair}:{self.until.isoformat()}"

    def text(self) -> str:
        what = "all pairs" if self.pair == "*" else self.pair
        return (f"{what} locked until {self.until:%Y-%m-%d %H:%M} UTC by {self.rule}: "
                f"{self.reason} (/unlock to end it)")


@dataclass(frozen=True, kw_only=True)
class ReconciliationMismatch(DomainEvent):
    kind: ClassVar[str] = "error"
    detail: str
    key: str

    def dedup_key(self) -> str:
        return f"recon:{self.key}"

    def text(self) -> str:
        return f"reconciliation: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class LiquidationNear(DomainEvent):
    """A futures position's mark price came within `threshold_pct` of its liquidation
    price. One alert per position and liquidation price (a changed margin or size gives a
    new price and may alert again)."""

    kind: ClassVar[str] = "liquidation_near"
    trade_id: int
    symbol: str
    side: str  # long | short
    mark_price: Decimal
    liquidation_price: Decimal
    distance_pct: float
    threshold_pct: float

    def dedup_key(self) -> str:
        return f"liq:{self.trade_id}:{self.liquidation_price.normalize()}"

    def text(self) -> str:
        return (f"{self.symbol} {self.side} #{self.trade_id}: mark {_short(self.mark_price)} is "
                f"{self.distance_pct:.2f}% from liquidation at "
                f"{_short(self.liquidation_price)} (alert at {self.threshold_pct:g}%)")


@dataclass(frozen=True, kw_only=True)
class FundingSettled(DomainEvent):
    """A futures position paid (amount < 0) or received funding at `funding_ms`. The
    dedup key makes this row the ledger: a funding time is charged once per position,
    whatever restarts or repeated calls happen."""

    kind: ClassVar[str] = "funding"
    trade_id: int
    symbol: str
    side: str
    funding_ms: int
    rate: Decimal
    mark_price: Decimal
    amount: Decimal

    def dedup_key(self) -> str:
        return f"funding:{self.trade_id}:{self.funding_ms}"

    def text(self) -> str:
        verb = "received" if self.amount >= 0 else "paid"
        return (f"{self.symbol} {self.side} #{self.trade_id} {verb} funding "
                f"{_short(abs(self.amount))} (rate {_short(self.rate)})")


@dataclass(frozen=True, kw_only=True)
class PositionLiquidated(DomainEvent):
    kind: ClassVar[str] = "liquidation"
    trade_id: int
    symbol: str
    side: str
    liquidation_price: Decimal
    realized_pnl: Decimal

    def dedup_key(self) -> str:
        return f"liquidated:{self.trade_id}"

    def text(self) -> str:
        return (f"{self.symbol} {self.side} #{self.trade_id} LIQUIDATED at "
                f"{_short(self.liquidation_price)}: {_short(self.realized_pnl)}")


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
def is_unique_violation(e: IntegrityError) -> bool:
    return "unique" in str(e.orig).lower() or "duplicate" in str(e.orig).lower()
