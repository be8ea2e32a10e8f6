"""Drains the engine's outbox to every configured chat, exactly once and in order.

The engine writes an `OutboxMessage` in the same transaction as the fact (a fill, a
breaker trip, a proposal). Here each message gets one `OutboxDelivery` row per
destination ("telegram:<chat>", "discord:<channel>", "console"); the unique
(outbox_id, destination) pair makes creation idempotent, and a destination's rows are
sent strictly in outbox order: while the head is failing nothing behind it is sent, so
a chat never sees a fill before its proposal. Failures are retried with capped
exponential backoff and never dropped; flood-control waits (429 retry_after) are
honoured exactly. `external_ref` keeps the sent message id so a proposal message can be
edited when someone decides.

Lost responses (at-most-once beyond one resend). Telegram has no idempotency key: a
send whose response is lost (read timeout, dropped connection, a crash mid-send) may or
may not have reached the chat. The row is marked in flight (committed) before each send;
a send with an unknown outcome is resent at most `MAX_UNKNOWN_RESENDS` times (one), then
the row is marked failed with the reason instead of being sent again, so a chat sees a
message at most twice, never five times. Errors that prove nothing was sent (connection
refused, flood control, a refusal) are retried as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from commands.alerts import format_alert
from commands.reply import Reply
from engine.service.api import TradingAPI
from engine.storage.dbtypes import utcnow
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage, User

log = logging.getLogger("sentitrade.notifier")
SKIPPED = "skipped"  # filtered out by the user's alert preferences
MAX_PERMANENT_ATTEMPTS = 5
MAX_UNKNOWN_RESENDS = 1
IN_FLIGHT = "in flight"
_UNKNOWN_TAG = re.compile(r"\[unknown outcomes=(\d+)\]")


def outcome_unknown(e: BaseException) -> bool:
    """True when the request may have reached the platform (the response was lost)."""
    import httpx

    if isinstance(e, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ConnectError):
        return False  # never connected: nothing was sent
    return isinstance(e, TimeoutError | httpx.TimeoutException | httpx.ReadError
                      | httpx.WriteError | httpx.RemoteProtocolError)


def unknown_outcomes(last_error: str | None) -> int:
    """Sends of this row whose outcome is unknown; a row left in flight (the process
    died mid-send) counts one more."""
    if not last_error:
        return 0
    m = _UNKNOWN_TAG.search(last_error)
    n = int(m.group(1)) if m else 0
    return n + 1 if last_error.startswith(IN_FLIGHT) else n


def _tagged(error: str, unknown: int) -> str:
    return f"{error[:450]} [unknown outcomes={unknown}]" if unknown else error[:500]


class RetryLater(Exception):
    """Flood control: try the same message again after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class PermanentError(Exception):
    """The chat refuses this message for good (blocked bot, bad request)."""


@dataclass(frozen=True, slots=True)
class Destination:
    """One chat: `key` is stored in OutboxDelivery.destination; `user` = (transport,
    user id) whose alert preferences apply (None for group chats: everything)."""

    key: str
    chat: str
    user: tuple[str, str] | None = None


class Sink(Protocol):
    """What a transport offers the notifier."""

    transport: str

    def destinations(self) -> list[Destination]: ...

    async def send(self, dest: Destination, reply: Reply) -> str:
        """Send and return the message id; raise RetryLater/PermanentError/other."""
        ...

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None: ...


@dataclass
class _Stats:
    delivered: int = 0
    retries: int = 0
    flood_waits: int = 0
    last_error: dict[str, str] = field(default_factory=dict)


def backoff(attempts: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds before retry number `attempts` (1-based): 0.5, 1, 2, ... capped."""
    return float(min(cap, base * (2 ** max(attempts - 1, 0))))


class Notifier:
    """Plans deliveries and drains them; `start()` runs the loop in the background."""

    def __init__(self, api: TradingAPI, sinks: Sequence[Sink], poll_interval: float = 0.2,
                 max_age: timedelta = timedelta(hours=24), backoff_base: float = 0.5,
                 backoff_cap: float = 60.0, max_inline_wait: float = 30.0) -> None:
        self.api = api
        self.sinks = list(sinks)
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.max_inline_wait = max_inline_wait
        self.stats = _Stats()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._dest_locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------ plan
    def _routes(self) -> list[tuple[Sink, Destination]]:
        return [(s, d) for s in self.sinks for d in s.destinations()]

    def plan(self) -> int:
        """Create the missing delivery rows; returns how many were created."""
        created = 0
        since = utcnow() - self.max_age
        with self.api.sessions() as s:
            for _sink, dest in self._routes():
                last = s.exec(select(func.max(OutboxDelivery.outbox_id))
                              .where(OutboxDelivery.destination == dest.key)).one()
                q = select(OutboxMessage).where(col(OutboxMessage.created_at) >= since)
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
                    wanted = enabled and (not types or m.kind in types)
                    s.add(OutboxDelivery(outbox_id=m.id or 0, destination=dest.key,
                                         state=DeliveryState.PENDING if wanted else SKIPPED))
                try:
                    s.commit()
                    created += len(msgs)
                except IntegrityError:  # another notifier planned them first
                    s.rollback()
        return created

    # ------------------------------------------------------------ drain
    async def drain_once(self) -> int:
        """Send what is due on every destination (concurrently across destinations)."""
        results = await asyncio.gather(*(self._drain_dest(sink, d) for sink, d in self._routes()))
        return sum(results)

    async def _drain_dest(self, sink: Sink, dest: Destination, limit: int = 1000) -> int:
        lock = self._dest_locks.setdefault(dest.key, asyncio.Lock())
        if lock.locked():
            return 0
        sent = 0
        async with lock:
            while sent < limit:
                with self.api.sessions() as s:
                    rows = s.exec(select(OutboxDelivery, OutboxMessage)
                                  .join(OutboxMessage,
                                        col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                                  .where(OutboxDelivery.destination == dest.key,
                                         OutboxDelivery.state == DeliveryState.PENDING)
                                  .order_by(col(OutboxDelivery.outbox_id)).limit(100)).all()
                if not rows:
                    return sent
                for delivery, msg in rows:
                    if delivery.next_attempt_at > utcnow():
                        return sent  # head not due: nothing behind it may overtake
                    if not await self._deliver(sink, dest, delivery, msg):
                        return sent
                    sent += 1
        return sent

    def _render(self, msg: OutboxMessage) -> Reply:
        proposal = None
        if msg.kind == "proposal" and msg.payload.get("proposal_id") is not None:
            try:
                proposal = self.api.get_proposal(int(msg.payload["proposal_id"]))
            except (TypeError, ValueError):
                proposal = None
        return format_alert(msg.kind, dict(msg.payload), proposal)

    async def _deliver(self, sink: Sink, dest: Destination, d: OutboxDelivery,
                       msg: OutboxMessage) -> bool:
        reply = self._render(msg)
        unknown = unknown_outcomes(d.last_error)
        if unknown > MAX_UNKNOWN_RESENDS:
            self._give_up_unknown(d, d.last_error or "", unknown)
            return True  # not resent: the chat may already have it; move on
        while True:
            self._update(d.id, last_error=_tagged(f"{IN_FLIGHT} since {utcnow().isoformat()}",
                                                  unknown))
            d.last_error = _tagged(IN_FLIGHT, unknown)
            try:
                ref = await sink.send(dest, reply)
            except RetryLater as e:
                self.stats.flood_waits += 1
                if e.seconds <= self.max_inline_wait:
                    await asyncio.sleep(e.seconds)
                    continue
                self._update(d.id, next_attempt_at=utcnow() + timedelta(seconds=e.seconds),
                             last_error=_tagged(str(e), unknown))
                return False
            except PermanentError as e:
                self._failure(d, _tagged(str(e), unknown), permanent=True)
                return False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
                if outcome_unknown(e):
                    unknown += 1
                    if unknown > MAX_UNKNOWN_RESENDS:
                        self._give_up_unknown(d, error, unknown)
                        return True
                self._failure(d, _tagged(error, unknown), permanent=False)
                return False
            self._update(d.id, state=DeliveryState.DELIVERED, external_ref=str(ref)[:128],
                         delivered_at=utcnow(), attempts=d.attempts + 1, last_error=None)
            self.stats.delivered += 1
            return True

    def _give_up_unknown(self, d: OutboxDelivery, error: str, unknown: int) -> None:
        """Stop resending a row whose earlier sends may all have arrived."""
        reason = _tagged(f"not resent: outcome of {unknown} sends unknown (last: "
                         f"{error[:300]})", unknown)
        log.error("delivery #%s to %s: %s", d.id, d.destination, reason)
        self.stats.last_error[d.destination] = reason
        self._update(d.id, state=DeliveryState.FAILED, attempts=d.attempts + 1,
                     last_error=reason)

    def _failure(self, d: OutboxDelivery, error: str, permanent: bool) -> None:
        attempts = d.attempts + 1
        self.stats.retries += 1
        self.stats.last_error[d.destination] = error
        if permanent and attempts >= MAX_PERMANENT_ATTEMPTS:
            log.error("giving up delivery #%s to %s: %s", d.id, d.destination, error)
            self._update(d.id, state=DeliveryState.FAILED, attempts=attempts, last_error=error)
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        log.warning("delivery #%s to %s failed (try %d, next in %.1fs): %s", d.id,
                    d.destination, attempts, delay, error)
        self._update(d.id, attempts=attempts, last_error=error,
                     next_attempt_at=utcnow() + timedelta(seconds=delay))

    def _update(self, delivery_id: int | None, **values: object) -> None:
        with self.api.sessions.begin() as s:
            row = s.get(OutboxDelivery, delivery_id)
            if row is None:
                return
            for k, v in values.items():
                setattr(row, k, v)
            s.add(row)

    # ------------------------------------------------------------ proposal edits
    async def proposal_decided(self, proposal_id: int, reply: Reply,
                               skip: str | None = None) -> int:
        """Edit every delivered copy of proposal `proposal_id` (but `skip`, the one the
        deciding transport already edited); returns how many were edited."""
        by_key = {d.key: (sink, d) for sink, d in self._routes()}
        with self.api.sessions() as s:
            rows = s.exec(select(OutboxDelivery, OutboxMessage)
                          .join(OutboxMessage,
                                col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                          .where(OutboxMessage.kind == "proposal",
                                 OutboxDelivery.state == DeliveryState.DELIVERED)
                          .order_by(col(OutboxMessage.id).desc()).limit(500)).all()
        edited = 0
        for d, m in rows:
            if str(m.payload.get("proposal_id")) != str(proposal_id) or d.external_ref is None:
                continue
            if d.destination == skip or d.destination not in by_key:
                continue
            sink, dest = by_key[d.destination]
            try:
                await sink.edit(dest, d.external_ref, reply)
                edited += 1
            except Exception as e:
                log.warning("could not edit proposal message in %s: %s", d.destination, e)
        return edited

    # ------------------------------------------------------------ loop
    def wake(self) -> None:
        """Ask the loop to look at the outbox now (the engine may call this)."""
        self._wake.set()

    async def run_once(self) -> int:
        self.plan()
        return await self.drain_once()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="sentitrade-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def pending(self) -> int:
        """Deliveries not yet sent (tests and /status use it)."""
        with self.api.sessions() as s:
            return int(s.exec(select(func.count()).select_from(OutboxDelivery)
                              .where(OutboxDelivery.state == DeliveryState.PENDING)).one())

    async def wait_idle(self, timeout: float = 10.0, since: datetime | None = None) -> bool:
        """Wait until every planned delivery is sent (bounded); True when idle."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            self.plan()
            if self.pending() == 0:
                return True
            self.wake()
            await asyncio.sleep(0.02)
        return False
