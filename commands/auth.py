"""Who may talk to the service: allow-listed ids mapped to roles in the settings, and
users an admin admitted from the chat.

Anyone unknown gets one short refusal that reveals nothing about the service (not even
that a bot with this name trades) and a logged warning with the id. An unknown user who
sends /start is recorded as pending and the admins get an Admit / Block pair of buttons
with their name and id: no config edit, no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlmodel import func, select

from commands.base import Identity
from engine.events import AccessRequested, record
from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import User

log = logging.getLogger("sentitrade.auth")
REFUSAL = "Sorry, this is a private bot."


ROLES = ("viewer", "trader", "admin")
MAX_PENDING = 20  # open access requests at once: a flood of new accounts cannot spam admins
REQUESTED = ("Your request to use this bot was sent to its admins. You will get a message "
             "here when one of them decides.")


def role_for(settings: Settings, transport: str, user_id: str,
             sessions: SessionFactory | None = None) -> str | None:
    """The role of `user_id` on `transport`: the settings' ``allowed_users`` first (fixed
    until the config changes), then a user an admin admitted from the chat (`users`
    table; ``pending`` and ``blocked`` are no role). None when neither knows them."""
    if transport == "console":
        return "admin"  # the local operator owns the process
    listed: Mapping[str, str] = {}
    if transport == "telegram":
        listed = settings.telegram.allowed_users
    elif transport == "discord":
        listed = settings.discord.allowed_users
    else:
        return None
    if str(user_id) in listed:
        return listed[str(user_id)]
    if sessions is None:
        return None
    with sessions() as s:
        u = s.exec(select(User).where(User.transport == transport)
                   .where(User.external_id == str(user_id))).first()
    return u.role if u is not None and u.role in ROLES else None


def identify(settings: Settings, transport: str, user_id: str, name: str,
             sessions: SessionFactory | None = None) -> Identity | None:
    """An `Identity` for a known user; None (and a warning) for anyone else."""
    role = role_for(settings, transport, user_id, sessions)
    if role is None:
        safe_name = "".join(c for c in name[:64] if c.isprintable())
        log.warning("refused %s user %s (%s): not in allowed_users", transport, user_id,
                    safe_name)
        return None
    return Identity(transport=transport, user_id=str(user_id), name=name[:64], role=role)


def request_access(sessions: SessionFactory, transport: str, user_id: str, name: str,
                   now: datetime | None = None) -> bool:
    """An unknown user sent /start: record them as ``pending`` and ask the admins (an
    ``access_request`` alert with Admit / Block buttons). Once per user: a pending or
    blocked user asking again changes nothing. False when nothing was recorded."""
    safe = "".join(c for c in name[:64] if c.isprintable())
    with sessions.begin() as s:
        u = s.exec(select(User).where(User.transport == transport)
                   .where(User.external_id == str(user_id))).first()
        if u is not None:
            return False
        pending = s.exec(select(func.count()).select_from(User)
                         .where(User.role == "pending")).one()
        if pending >= MAX_PENDING:
            log.warning("access request of %s user %s dropped: %d requests already open",
                        transport, user_id, pending)
            return False
        u = User(transport=transport, external_id=str(user_id), display_name=safe,
                 role="pending", alerts_enabled=False)
        s.add(u)
        s.flush()
        assert u.id is not None
        record(s, AccessRequested(ts_event=now or utcnow(), user_row=u.id,
                                  transport=transport, user_id=str(user_id), name=safe))
    log.info("access requested by %s user %s (%s)", transport, user_id, safe)
    return True


def decide_access(sessions: SessionFactory, user_row: int, admit: bool,
                  by: str) -> tuple[bool, str]:
    """An admin's Admit (-> viewer) or Block on a pending request: (changed, text)."""
    with sessions.begin() as s:
        u = s.get(User, user_row)
        if u is None:
            return False, "That request no longer exists."
        who = f"{u.display_name or u.external_id} ({u.transport}:{u.external_id})"
        if u.role != "pending":
            return False, f"{who} is already {u.role}."
        u.role = "viewer" if admit else "blocked"
        u.alerts_enabled = admit
        s.add(u)
    log.info("%s %s by %s", "admitted" if admit else "blocked", who, by)
    return True, (f"{who} admitted as viewer by {by} (/role to change)" if admit
                  else f"{who} blocked by {by}")
