"""Bot leases: each bot is owned by exactly one engine worker at a time.

A lease is a row in ``bot_leases`` (name, owner, expires_at) in the store of record
(Postgres when several processes share it). Taking one is a single conditional UPDATE
(``WHERE owner = me OR expires_at < now``) or, for a name never leased, an INSERT that
the primary key lets only one worker win: no advisory locks, so it works the same on
SQLite for one machine and on Postgres for several, and an inspector sees who owns what
with one SELECT. The owner renews its leases every heartbeat; a worker that stops
(SIGKILL, a lost machine, a stall longer than the lease) lets them lapse, and any other
worker takes them on its next heartbeat and rebuilds the bots' state from the database
(`engine.service.roles`). A renewal that finds a lease taken by someone else drops the
bot at once: the new owner is already acting for it.

Workers register under ``worker:{id}`` with the same mechanism, so every worker knows
how many live workers share the bots and takes at most its fair share
(``ceil(bots / workers)``) of the free ones. Times are wall-clock UTC: a replay's clock
says nothing about whether a process is alive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from engine.storage.db import SessionFactory
from engine.storage.models import BotLease

GLOBAL = "*global*"  # the jobs one worker runs for all: breakers, expiry, alert drain
WORKER = "worker:"


def _now() -> datetime:
    return datetime.now(UTC)


class Leases:
    """One worker's view of the lease table."""

    def __init__(self, sessions: SessionFactory, owner: str, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError(f"lease duration must be positive, got {ttl_s}")
        self.sessions = sessions
        self.owner = owner
        self.ttl = timedelta(seconds=ttl_s)

    def try_take(self, name: str) -> bool:
        """Take `name` if it is free, lapsed or already ours; True when we hold it."""
        now = _now()
        expires = now + self.ttl
        with self.sessions.begin() as s:
            res = s.execute(sa.update(BotLease).where(
                col(BotLease.name) == name,
                sa.or_(col(BotLease.owner) == self.owner, col(BotLease.expires_at) < now),
            ).values(owner=self.owner, expires_at=expires, heartbeat_at=now, acquired_at=now))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            with self.sessions.begin() as s:
                if s.get(BotLease, name) is not None:
                    return False  # held by a live owner
                s.add(BotLease(name=name, owner=self.owner, expires_at=expires,
                               heartbeat_at=now, acquired_at=now))
        except IntegrityError:  # another worker inserted it first
            return False
        return True

    def renew(self, names: Iterable[str]) -> set[str]:
        """Extend the leases we hold among `names`; returns those still ours (a lease
        that lapsed and was taken meanwhile is not)."""
        names = list(names)
        if not names:
            return set()
        now = _now()
        with self.sessions.begin() as s:
            s.execute(sa.update(BotLease).where(
                col(BotLease.name).in_(names), col(BotLease.owner) == self.owner,
            ).values(expires_at=now + self.ttl, heartbeat_at=now))
            held = s.exec(select(BotLease.name).where(
                col(BotLease.name).in_(names), col(BotLease.owner) == self.owner)).all()
        return set(held)

    def release(self, names: Iterable[str]) -> None:
        """Give leases back at once (a clean stop: no need to wait for them to lapse)."""
        names = list(names)
        if not names:
            return
        with self.sessions.begin() as s:
            s.execute(sa.delete(BotLease).where(col(BotLease.name).in_(names),
                                                col(BotLease.owner) == self.owner))

    def live_workers(self) -> int:
        """Workers whose registration lease has not lapsed (this one included)."""
        with self.sessions() as s:
            rows = s.exec(select(BotLease.name).where(
                col(BotLease.name).startswith(WORKER), col(BotLease.expires_at) >= _now())).all()
        return len(rows)

    def owners(self) -> dict[str, str]:
        """Every unexpired lease: name -> owner."""
        with self.sessions() as s:
            rows = s.exec(select(BotLease).where(col(BotLease.expires_at) >= _now())).all()
        return {r.name: r.owner for r in rows}


def fair_share(n_bots: int, n_workers: int) -> int:
    """How many bots one of `n_workers` live workers takes at most."""
    return math.ceil(n_bots / max(1, n_workers))
