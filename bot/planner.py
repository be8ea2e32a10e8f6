"""Which alerts each chat gets: one delivery row per (outbox message, destination).

Planning is separate from sending so that the choices (user preferences, per-chat
modes, job errors to admins only with repeats collapsed) are made once per row and
stored: a row's state says why it was or was not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from bot.digest import Policy
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage, User

SKIPPED = "skipped"  # filtered out by preferences, the chat's mode or error routing


@dataclass(frozen=True, slots=True)
class Destination:
    """One chat: `key` is stored in OutboxDelivery.destination; `user` = (transport,
    user id) whose alert preferences apply (None for group chats: everything);
    `admin`: the chat of an admin (job errors go to admins only)."""

    key: str
    chat: str
    user: tuple[str, str] | None = None
    admin: bool = False
    since: float | None = None  # epoch s: a chat added later (a DM) starts here


def _wants_error(dest: Destination, has_admin_chat: bool) -> bool:
    """Job errors go to admins' chats; a shared room only when no admin has one."""
    return dest.admin or (dest.user is None and not has_admin_chat)


def plan_deliveries(sessions: SessionFactory, dests: Sequence[Destination], policy: Policy,
                    max_age: timedelta) -> int:
    """Create the missing delivery rows of `dests` (PENDING, or SKIPPED where the user's
    /alerts preferences, the chat's mode or the error routing say so); returns how many
    were created. Idempotent: the (outbox_id, destination) key refuses a second row."""
    created = 0
    since = utcnow() - max_age
    has_admin = any(d.admin for d in dests)
    with sessions() as s:
        for dest in dests:
            last = s.exec(select(func.max(OutboxDelivery.outbox_id))
                          .where(OutboxDelivery.destination == dest.key)).one()
            start = since
            if dest.since is not None:  # a new DM gets what comes next, not a backlog
                start = max(since, datetime.fromtimestamp(dest.since, UTC))
            q = select(OutboxMessage).where(col(OutboxMessage.created_at) >= start)
            if last is not None:
                q = q.where(col(OutboxMessage.id) > last)
            msgs = list(s.exec(q.order_by(col(OutboxMessage.id)).limit(1000)).all())
            if not msgs:
                continue
            enabled, types = True, []
            if dest.user is not None:
                u = s.exec(select(User).where(User.transport == dest.user[0],
                                              User.external_id == dest.user[1])).first()
                if u is not None:
                    enabled, types = u.alerts_enabled, list(u.alert_types)
            for m in msgs:
                wanted = (enabled and (not types or m.kind in types)
                          and policy.mode(dest.key, m.kind) != "off")
                if m.kind == "access_request":  # admins decide; nobody else sees it
                    wanted = dest.admin or (dest.user is None and not has_admin)
                if wanted and m.kind == "error":
                    wanted = (_wants_error(dest, has_admin) and not
                              policy.repeated_error(dest.key,
                                                         str(m.payload.get("text", ""))))
                s.add(OutboxDelivery(outbox_id=m.id or 0, destination=dest.key,
                                     state=DeliveryState.PENDING if wanted else SKIPPED))
            try:
                s.commit()
                created += len(msgs)
            except IntegrityError:  # another notifier planned them first
                s.rollback()
    return created

