"""Who may talk to the service: allow-listed ids mapped to roles in the settings.

Anyone not listed gets one short refusal that reveals nothing about the service (not
even that a bot with this name trades) and a logged warning with the id, so the owner
can add a colleague by reading the log.
"""

from __future__ import annotations

import logging

from commands.base import Identity
from engine.storage.config import Settings

log = logging.getLogger("sentitrade.auth")
REFUSAL = "Sorry, this is a private bot."


def role_for(settings: Settings, transport: str, user_id: str) -> str | None:
    """The configured role of `user_id` on `transport`, or None when not listed."""
    if transport == "console":
        return "admin"  # the local operator owns the process
    if transport == "telegram":
        return settings.telegram.allowed_users.get(str(user_id))
    if transport == "discord":
        return settings.discord.allowed_users.get(str(user_id))
    return None


def identify(settings: Settings, transport: str, user_id: str, name: str) -> Identity | None:
    """An `Identity` for a listed user; None (and a warning) for anyone else."""
    role = role_for(settings, transport, user_id)
    if role is None:
        safe_name = "".join(c for c in name[:64] if c.isprintable())
        log.warning("refused %s user %s (%s): not in allowed_users", transport, user_id,
                    safe_name)
        return None
    return Identity(transport=transport, user_id=str(user_id), name=name[:64], role=role)
