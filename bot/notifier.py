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

Lost responses: the row is marked in flight (committed) before each send; a send whose
answer was lost is resent at most `MAX_UNKNOWN_RESENDS` times (one), then failed with
the reason (bot.outcomes), so a chat sees a message at most twice, never five times.

Replies first, digests: transports pace alerts below replies (bot.flood), and what is
pending together for one chat goes out as one message (bot.digest), each row of it
still marked delivered exactly once with the message's id. The reads and marks around
each send run in a worker thread: a slow commit (an fsync on a busy disk) must not
hold up the event loop that answers commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlmodel import col, func, select

from bot.digest import Pending, Policy
from bot.edits import ProposalEdits
from bot.outcomes import (
    IN_FLIGHT,
    MAX_UNKNOWN_RESENDS,
    PermanentError,
    RetryLater,
    mask,
    outcome_unknown,
    tagged,
    unknown_outcomes,
)
from bot.planner import SKIPPED, Destination, plan_deliveries
from commands.alerts import format_alert, format_digest
from commands.dailychart import daily_chart
from commands.notify import Cache
from commands.reply import Attachment, Reply
from engine.service.api import TradingAPI
from engine.storage.config import NotifySettings
from engine.storage.dbtypes import utcnow
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage, Proposal

log = logging.getLogger("sentitrade.notifier")
MAX_PERMANENT_ATTEMPTS = 5
FETCH = 200  # pending rows read per pass and chat: at most this many alerts per digest
__all__ = ["IN_FLIGHT", "MAX_UNKNOWN_RESENDS", "Destination", "Notifier", "PermanentError",
           "RetryLater", "Sink", "mask", "outcome_unknown", "unknown_outcomes"]


class Sink(Protocol):
    """What a transport offers the notifier. Optional attributes: `ready` (False while
    the transport is still connecting: its chats wait, no attempt is spent),
    `max_button_rows` and `max_chars` (a digest's limits on this platform); `send`
    takes `silent=True` only when the alert must arrive without sound."""

    transport: str

    def destinations(self) -> list[Destination]: ...

    async def send(self, dest: Destination, reply: Reply) -> str:
        """Send and return the message id; raise RetryLater/PermanentError/other."""
        ...

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None: ...


@dataclass
class _Stats:
    delivered: int = 0
    messages: int = 0
    digests: int = 0
    retries: int = 0
    flood_waits: int = 0
    last_error: dict[str, str] = field(default_factory=dict)


def backoff(attempts: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Seconds before retry number `attempts` (1-based): 0.5, 1, 2, ... capped."""
    return float(min(cap, base * (2 ** max(attempts - 1, 0))))


Row = tuple[OutboxDelivery, OutboxMessage]
T = TypeVar("T")


class Notifier(ProposalEdits):
    """Plans deliveries and drains them; `start()` runs the loop in the background.

    `policy` applies the `[notify]` settings; without one each alert is its own
    message (only a backlog beyond `queue_max` is summarized)."""

    def __init__(self, api: TradingAPI, sinks: Sequence[Sink], poll_interval: float = 0.2,
                 max_age: timedelta = timedelta(hours=24), backoff_base: float = 0.5,
                 backoff_cap: float = 60.0, max_inline_wait: float = 30.0,
                 policy: Policy | None = None) -> None:
        self.api = api
        self.sinks = list(sinks)
        self.poll_interval = poll_interval
        self.max_age = max_age
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.max_inline_wait = max_inline_wait
        self.policy = policy or Policy(NotifySettings(digest_window_seconds=0))
        self.stats = _Stats()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._dest_locks: dict[str, asyncio.Lock] = {}
        self._flush = False
        self.modes = Cache(api.sessions)  # the chats' own modes (/notify), DM requests
        # one worker thread for every destination's reads and marks: several threads
        # contending for the GIL starve the event loop that answers commands (/status
        # with 500 alerts queued per chat: p99 192 -> see `bench chat`)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentitrade-notifier")
        self._settings = getattr(api, "settings", None)  # replaced by /reload_config

    async def _off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the notifier's worker thread (DB reads and marks, rendering)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._db, functools.partial(fn, *args, **kwargs))

    def refresh_modes(self, force: bool = False) -> None:
        """Apply what changed since the last pass: modes set with /notify (re-read at
        once after a change in this process, else every few seconds) and new
        `[notify]` settings (/reload_config replaces `api.settings`)."""
        live = getattr(self.api, "settings", None)
        if live is not None and live is not self._settings:
            self._settings = live
            if live.notify is not self.policy.cfg:
                self.policy.reconfigure(live.notify)
            for s in self.sinks:  # and the allow-lists the transports check
                if hasattr(s, "reconfigure"):
                    s.reconfigure(live)
        if self.modes.refresh(force):
            self.policy.overrides = self.modes.overrides
            for s in self.sinks:  # Discord: its DM destinations
                if hasattr(s, "dm_users"):
                    s.dm_users = self.modes.dms

    # ------------------------------------------------------------ plan
    def _routes(self) -> list[tuple[Sink, Destination]]:
        return [(s, d) for s in self.sinks for d in s.destinations()]

    def plan(self) -> int:
        """Create the missing delivery rows; returns how many were created."""
        self.refresh_modes()
        return plan_deliveries(self.api.sessions, [d for _s, d in self._routes()],
                               self.policy, self.max_age)

    # ------------------------------------------------------------ drain
    async def drain_once(self) -> int:
        """Send what is due on every destination (concurrently across destinations)."""
        results = await asyncio.gather(*(self._drain_dest(sink, d) for sink, d in self._routes()
                                         if getattr(sink, "ready", True)))
        return sum(results)

    def _backlog(self, dest: Destination, head: int, cap: int) -> int:
        """Pending rows of `dest` from outbox id `head` on, counted up to cap + 1 (an
        index range from the head: bounded by the backlog, not the history)."""
        with self.api.sessions() as s:
            sub = (select(OutboxDelivery.id)
                   .where(col(OutboxDelivery.outbox_id) >= head,
                          OutboxDelivery.destination == dest.key,
                          OutboxDelivery.state == DeliveryState.PENDING)
                   .limit(cap + 1).subquery())
            return int(s.exec(select(func.count()).select_from(sub)).one())

    def _pending(self, dest: Destination, limit: int) -> list[tuple[int, int, str, bool]]:
        """(delivery id, outbox id, kind, due) of the first pending rows: columns only,
        no payloads (this runs before every send, on the event loop)."""
        now = utcnow()
        with self.api.sessions() as s:
            rows = s.exec(select(OutboxDelivery.id, OutboxDelivery.outbox_id,
                                 OutboxMessage.kind, OutboxDelivery.next_attempt_at)
                          .join(OutboxMessage,
                                col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                          .where(OutboxDelivery.destination == dest.key,
                                 OutboxDelivery.state == DeliveryState.PENDING)
                          .order_by(col(OutboxDelivery.outbox_id)).limit(limit)).all()
        return [(i or 0, o, k, t <= now) for i, o, k, t in rows]

    def _load(self, ids: Sequence[int]) -> list[Row]:
        with self.api.sessions() as s:
            return list(s.exec(select(OutboxDelivery, OutboxMessage)
                               .join(OutboxMessage,
                                     col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                               .where(col(OutboxDelivery.id).in_(list(ids)),
                                      OutboxDelivery.state == DeliveryState.PENDING)
                               .order_by(col(OutboxDelivery.outbox_id))).all())

    async def _drain_dest(self, sink: Sink, dest: Destination, limit: int = 1000) -> int:
        lock = self._dest_locks.setdefault(dest.key, asyncio.Lock())
        if lock.locked():
            return 0
        sent = 0
        loop = asyncio.get_running_loop()
        async with lock:
            while sent < limit:
                rows = await self._off_loop(self._pending, dest, FETCH)
                off = [i for i, _o, k, _d in rows if self.policy.mode(dest.key, k) == "off"]
                if off:  # turned off (/notify) after they were planned: never sent
                    await self._off_loop(self._skip, off)
                    rows = [r for r in rows if r[0] not in set(off)]
                if not rows:
                    return sent
                total = (await self._off_loop(self._backlog, dest, rows[0][1],
                                                 self.policy.cfg.queue_max)
                         if len(rows) == FETCH else len(rows))
                group = self.policy.pick(dest.key, [Pending(i, k, due) for i, _o, k, due in rows],
                                         loop.time(), flush=self._flush, backlog=total)
                if group is None:
                    return sent
                chosen = await self._off_loop(self._load, group.ids)
                if not chosen:
                    return sent
                if not await self._deliver(sink, dest, chosen, group.silent):
                    return sent
                self.policy.forget(group.ids)
                sent += len(chosen)
        return sent

    def _skip(self, ids: Sequence[int]) -> None:
        with self.api.sessions.begin() as s:
            for i in ids:
                row = s.get(OutboxDelivery, i)
                if row is not None and row.state == DeliveryState.PENDING:
                    row.state = SKIPPED
                    s.add(row)

    def _proposal(self, msg: OutboxMessage) -> Proposal | None:
        if msg.kind != "proposal" or msg.payload.get("proposal_id") is None:
            return None
        try:
            return self.api.get_proposal(int(msg.payload["proposal_id"]))
        except (TypeError, ValueError):
            return None

    def _render(self, sink: Sink, msgs: Sequence[OutboxMessage]) -> Reply:
        if len(msgs) == 1:
            m = msgs[0]
            reply = format_alert(m.kind, dict(m.payload), self._proposal(m))
        else:
            items = [(m.id or 0, m.kind, dict(m.payload), self._proposal(m)) for m in msgs]
            reply = format_digest(items, int(getattr(sink, "max_button_rows", 10)),
                                  int(getattr(sink, "max_chars", 3500)))
        summary = next((m for m in reversed(msgs) if m.kind == "daily_summary"), None)
        day = str(summary.payload.get("day", "")) if summary is not None else ""
        if summary is not None and len(day) == 10:  # the summary's day: the engine's clock
            png = daily_chart(self.api.sessions, day, summary.id or 0)
            if png is not None:
                reply = replace(reply, image=Attachment(f"pnl-{day}.png", png, "image/png"))
        return reply

    def _mark(self, rows: Sequence[OutboxDelivery], **values: object) -> None:
        with self.api.sessions.begin() as s:
            for d in rows:
                row = s.get(OutboxDelivery, d.id)
                if row is not None:
                    for k, v in values.items():
                        setattr(row, k, v)
                    s.add(row)

    async def _deliver(self, sink: Sink, dest: Destination, rows: Sequence[Row],
                       silent: bool = False) -> bool:
        """Send `rows` as one message. Every row is marked in flight first and
        delivered (with the same message id) after: exactly once per row, with the
        lost-response rule applied to the group as a whole."""
        ds = [d for d, _ in rows]
        reply = await self._off_loop(self._render, sink, [m for _, m in rows])
        unknown = max(unknown_outcomes(d.last_error) for d in ds)
        attempts = max(d.attempts for d in ds) + 1
        if unknown > MAX_UNKNOWN_RESENDS:
            self._give_up_unknown(ds, ds[0].last_error or "", unknown, attempts)
            return True  # not resent: the chat may already have it; move on
        while True:
            await self._off_loop(  # committed before the send; off the event loop
                self._mark, ds, last_error=tagged(f"{IN_FLIGHT} since {utcnow().isoformat()}",
                                                  unknown))
            try:
                ref = await (sink.send(dest, reply, silent=True)  # type: ignore[call-arg]
                             if silent else sink.send(dest, reply))
            except RetryLater as e:
                self.stats.flood_waits += 1
                if e.seconds <= self.max_inline_wait and not self._flush:
                    await asyncio.sleep(e.seconds)
                    continue
                self._mark(ds, next_attempt_at=utcnow() + timedelta(seconds=e.seconds),
                           last_error=tagged(str(e), unknown))
                return False
            except PermanentError as e:
                self._failure(ds, tagged(str(e), unknown), attempts, permanent=True)
                return False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error = f"{type(e).__name__}: {mask(str(e))}"
                if outcome_unknown(e):
                    unknown += 1
                    if unknown > MAX_UNKNOWN_RESENDS:
                        self._give_up_unknown(ds, error, unknown, attempts)
                        return True
                self._failure(ds, tagged(error, unknown), attempts, permanent=False)
                return False
            await self._off_loop(self._mark, ds, state=DeliveryState.DELIVERED,
                                    external_ref=str(ref)[:128], delivered_at=utcnow(),
                                    attempts=attempts, last_error=None)
            self.stats.delivered += len(ds)
            self.stats.messages += 1
            self.stats.digests += len(ds) > 1
            return True

    def _give_up_unknown(self, ds: Sequence[OutboxDelivery], error: str, unknown: int,
                         attempts: int) -> None:
        """Stop resending rows whose earlier sends may all have arrived."""
        reason = tagged(f"not resent: outcome of {unknown} sends unknown (last: "
                         f"{error[:300]})", unknown)
        log.error("delivery of %d alert(s) to %s: %s", len(ds), ds[0].destination, reason)
        self.stats.last_error[ds[0].destination] = reason
        self._mark(ds, state=DeliveryState.FAILED, attempts=attempts, last_error=reason)

    def _failure(self, ds: Sequence[OutboxDelivery], error: str, attempts: int,
                 permanent: bool) -> None:
        dest = ds[0].destination
        self.stats.retries += 1
        self.stats.last_error[dest] = error
        if permanent and attempts >= MAX_PERMANENT_ATTEMPTS:
            log.error("giving up %d alert(s) to %s: %s", len(ds), dest, error)
            self._mark(ds, state=DeliveryState.FAILED, attempts=attempts, last_error=error)
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        log.warning("delivery to %s failed (try %d, next in %.1fs): %s", dest, attempts,
                    delay, error)
        self._mark(ds, attempts=attempts, last_error=error,
                   next_attempt_at=utcnow() + timedelta(seconds=delay))

    # ------------------------------------------------------------ loop
    def wake(self) -> None:
        """Ask the loop to look at the outbox now (the engine may call this)."""
        self._wake.set()

    async def run_once(self) -> int:
        await self._off_loop(self.plan)  # queries per chat: not on the event loop
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

    async def stop(self, drain_seconds: float = 0.0) -> int:
        """Stop the loop; with `drain_seconds`, first send what is queued, as digests
        (held types too), for at most that long. What is left stays pending in the
        database and goes out at the next start. Returns the alerts left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if drain_seconds <= 0:
            return 0
        self._flush = True
        try:
            async with asyncio.timeout(drain_seconds):
                while True:
                    self.plan()
                    if await self.drain_once() == 0:
                        break
        except TimeoutError:
            pass
        except Exception as e:  # stopping must not fail because a chat is down
            log.warning("alerts not drained at stop: %s", mask(str(e)))
        finally:
            self._flush = False
        left = self.pending()
        if left:
            log.info("%d alert(s) still queued: they are sent at the next start", left)
        return left

    def pending(self, destination: str | None = None) -> int:
        """Deliveries not yet sent, of one destination or all (tests, the bench)."""
        q = (select(func.count()).select_from(OutboxDelivery)
             .where(OutboxDelivery.state == DeliveryState.PENDING))
        if destination is not None:
            q = q.where(OutboxDelivery.destination == destination)
        with self.api.sessions() as s:
            return int(s.exec(q).one())

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
