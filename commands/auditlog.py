"""Writing one audit row (see `commands.audit` for what the trail is for). Apart from
the commands so that `commands.base` can audit every call without an import cycle."""

from __future__ import annotations

import logging
from typing import Protocol

from engine.storage.db import SessionFactory
from engine.storage.models import AuditEntry

log = logging.getLogger("sentitrade.audit")


class Who(Protocol):
    @property
    def transport(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def by(self) -> str: ...


def record(sessions: SessionFactory, user: Who, action: str, args: list[str],
           outcome: str, detail: str = "") -> None:
    """One audit row; never raises (the reply matters more than the row)."""
    try:
        with sessions.begin() as s:
            s.add(AuditEntry(transport=user.transport[:16], user_id=user.user_id[:64],
                             user_name=user.name[:64], role=user.role[:16],
                             action=action[:32], args=" ".join(args)[:256],
                             outcome=outcome[:16],
                             detail=detail.splitlines()[0][:256] if detail else ""))
    except Exception:
        log.exception("audit row for %s %s not written", user.by, action)
