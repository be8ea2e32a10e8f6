"""API tokens and who may call what.

A token is shown once when created (`sentitrade user token NAME --role ROLE`); only its
SHA-256 is stored. Roles are the chat's (viewer < trader < admin, `commands.base`).
Failed token checks are counted per client address: past the configured rate the
address gets 429 for the rest of the minute, so a token cannot be guessed by brute
force (256 random bits make that hopeless anyway; the limit keeps logs and CPU quiet).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from sqlmodel import col, select

from commands.base import ROLE_RANK, has_role
from engine.errors import SentitradeError
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import ApiToken

log = logging.getLogger("sentitrade.web")
TOKEN_PREFIX = "st_"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated API user: the token's name and role."""

    name: str
    role: str
    token_id: int

    @property
    def by(self) -> str:
        """The audit string the engine records for this caller's actions."""
        return f"api:{self.name}"

    def can(self, needed: str) -> bool:
        return has_role(self.role, needed)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(sessions: SessionFactory, name: str, role: str) -> str:
    """Store a new token for `name` with `role`; returns the token (never stored)."""
    if role not in ROLE_RANK:
        raise SentitradeError(f"unknown role {role!r}: one of {', '.join(ROLE_RANK)}")
    if not (1 <= len(name) <= 64) or not all(c.isascii() and (c.isalnum() or c in "_.-@")
                                             for c in name):
        raise SentitradeError("token names use 1-64 letters, digits, _ . - @")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with sessions.begin() as s:
        s.add(ApiToken(name=name, role=role, token_hash=hash_token(token),
                       prefix=token[:10]))
    return token


def revoke_tokens(sessions: SessionFactory, name: str) -> int:
    """Revoke every live token of `name`; returns how many."""
    n = 0
    with sessions.begin() as s:
        for t in s.exec(select(ApiToken).where(ApiToken.name == name,
                                               col(ApiToken.revoked_at).is_(None))).all():
            t.revoked_at = utcnow()
            n += 1
    return n


def list_tokens(sessions: SessionFactory) -> list[ApiToken]:
    with sessions() as s:
        return list(s.exec(select(ApiToken).order_by(col(ApiToken.id))).all())


class TokenBook:
    """Checks bearer tokens against the table, caching hits for a few seconds (a
    revoked token stops working within `ttl_s`)."""

    def __init__(self, sessions: SessionFactory, ttl_s: float = 5.0) -> None:
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Caller]] = {}

    def check(self, token: str) -> Caller | None:
        if not token or len(token) > 200:
            return None
        h = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        with self.sessions.begin() as s:
            row = s.exec(select(ApiToken).where(ApiToken.token_hash == h)).first()
            if row is None or row.revoked_at is not None or row.id is None:
                self._cache.pop(h, None)
                return None
            row.last_used_at = utcnow()
            caller = Caller(row.name, row.role, row.id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[h] = (now, caller)
        return caller


class FailureLimiter:
    """Sliding one-minute window of failed authentications per client address."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._fails: dict[str, deque[float]] = defaultdict(deque)

    def _window(self, client: str, now: float) -> deque[float]:
        q = self._fails[client]
        while q and now - q[0] > 60.0:
            q.popleft()
        return q

    def blocked(self, client: str) -> bool:
        q = self._window(client, time.monotonic())
        if not q:
            self._fails.pop(client, None)
            return False
        return len(q) >= self.per_minute

    def failed(self, client: str) -> None:
        now = time.monotonic()
        if len(self._fails) > 50_000:  # many addresses: forget the quiet ones
            for c in [c for c, q in self._fails.items() if not q or now - q[-1] > 60.0]:
                del self._fails[c]
        q = self._window(client, now)
        q.append(now)
        if len(q) == self.per_minute:
            log.warning("api: %d failed authentications from %s in a minute: blocked",
                        len(q), client)
