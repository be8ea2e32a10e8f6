"""Proposal lifecycle: pending -> approved | rejected | expired | failed -> executed.

Decisions are compare-and-set updates (`UPDATE ... WHERE state = 'pending'`) so that two
taps on Approve, from two chats or two processes, make exactly one decision; the order
row's unique `proposal_id` makes exactly one order. A repeated decision returns the
first one with `changed=False` (idempotent); a contrary one (reject after approve)
raises `ApprovalError` saying who decided first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from engine.errors import ApprovalError
from engine.execution.fsm import FSM
from engine.storage.models import Proposal
from engine.storage.models import ProposalState as P


class ProposalTrigger(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    REFUSE = "refuse"  # approval asked, re-validation said no
    EXECUTE = "execute"
    FAIL = "fail"  # the order could not be placed


T = ProposalTrigger

NEXT: dict[tuple[str, str], str] = {
    (P.PENDING, T.APPROVE): P.APPROVED,
    (P.PENDING, T.REJECT): P.REJECTED,
    (P.PENDING, T.EXPIRE): P.EXPIRED,
    (P.PENDING, T.REFUSE): P.FAILED,
    (P.APPROVED, T.EXECUTE): P.EXECUTED,
    (P.APPROVED, T.FAIL): P.FAILED,
}
PROPOSAL_FSM = FSM("proposal", NEXT)


def needs_approval(mode: str, notional: object, auto_max_notional: object) -> bool:
    """`auto` never asks, `manual` always asks, `threshold` asks above the limit."""
    if mode == "auto":
        return False
    if mode == "manual":
        return True
    return bool(notional > auto_max_notional)  # type: ignore[operator]


def transition(session: Session, proposal: Proposal, trigger: ProposalTrigger, *,
               by: str | None, at: datetime, note: str | None = None) -> bool:
    """Move `proposal` by `trigger` with a compare-and-set on its current state.

    Returns False when another writer moved it first (the caller re-reads); raises
    `InvalidStateTrigger` when the table has no such move.
    """
    new = PROPOSAL_FSM.next(proposal.state, trigger)
    values: dict[str, object] = {"state": new}
    if trigger in (T.APPROVE, T.REJECT, T.EXPIRE, T.REFUSE):
        values.update(decided_by=by, decided_at=at, decision_note=note)
    if trigger == T.EXECUTE:
        values["executed_at"] = at
    if trigger == T.FAIL and note:
        values["decision_note"] = note
    tbl = Proposal.__table__  # type: ignore[attr-defined]
    res = session.execute(
        sa.update(tbl).where(tbl.c.id == proposal.id, tbl.c.state == proposal.state)
        .values(**values)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for k, v in values.items():
        setattr(proposal, k, v)
    return True


def describe_decided(p: Proposal) -> str:
    when = f" at {p.decided_at:%Y-%m-%d %H:%M:%S} UTC" if p.decided_at else ""
    return f"proposal #{p.id} was already {p.state} by {p.decided_by or 'the engine'}{when}"


def check_decidable(p: Proposal, want: ProposalTrigger, now: datetime) -> bool:
    """True when `p` is pending and not expired; False when `want` was already done
    (idempotent repeat); raises `ApprovalError` otherwise."""
    if p.state == P.PENDING:
        return True
    done = {T.APPROVE: (P.APPROVED, P.EXECUTED), T.REJECT: (P.REJECTED,)}
    if p.state in done.get(want, ()):
        return False
    if p.state == P.EXPIRED:
        raise ApprovalError(f"proposal #{p.id} expired at {p.expires_at:%H:%M:%S} UTC: "
                            "it can no longer be approved")
    if p.state == P.FAILED:
        raise ApprovalError(f"proposal #{p.id} failed: {p.decision_note or 'no reason given'}")
    raise ApprovalError(describe_decided(p))


def due_for_expiry(session: Session, now: datetime) -> list[Proposal]:
    return list(session.exec(select(Proposal).where(
        Proposal.state == P.PENDING, col(Proposal.expires_at) <= now)).all())
