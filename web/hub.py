"""Live updates for WebSocket clients, fed by the engine's own commits.

The engine records every fact as an outbox row in the transaction that makes it true
(`engine.events.record`). The hub listens to SQLAlchemy's session events: rows added in
a flush are remembered on the session and published when (and only when) that session
commits, so a client never hears of a proposal or fill that rolled back, and nobody
polls the database. Candles are published by `web.instrument` as the engine sees them.

Each client has a bounded queue. Publishing never waits: a client whose queue is full is
marked dropped and its connection closed by its own task, so a slow browser can never
stall the engine's loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session

from engine.storage.models import OutboxMessage

log = logging.getLogger("sentitrade.web")
Message = dict[str, Any]
_KEY = "web_hub_outbox"
_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()
_LISTENING = [False]


@dataclass(eq=False)
class Subscriber:
    """One client's bounded queue; `accept` picks the messages it wants."""

    accept: Callable[[Message], bool]
    queue: asyncio.Queue[Message]
    dropped: bool = False
    sent: int = field(default=0)


class Hub:
    """Fan-out of engine events to subscribers on one asyncio loop."""

    def __init__(self, db: DbEngine | None = None, queue_size: int = 256) -> None:
        self.db = db
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.published = 0
        self.dropped = 0
        self.last_outbox_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        if db is not None:
            _listen()
            _HUBS.add(self)

    def bind_loop(self) -> None:
        """Remember the running loop: publishes from worker threads are handed to it."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def subscribe(self, accept: Callable[[Message], bool]) -> Subscriber:
        if self._loop is None:
            self.bind_loop()
        sub = Subscriber(accept, asyncio.Queue(maxsize=self.queue_size))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, msg: Message) -> None:
        """Queue `msg` for every interested subscriber; never blocks, any thread."""
        msg.setdefault("_t", time.monotonic())
        if self._loop is None:
            return  # nobody subscribed yet
        if threading.get_ident() == self._thread:
            self._fanout(msg)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fanout, msg)

    def _fanout(self, msg: Message) -> None:
        self.published += 1
        for sub in list(self.subscribers):
            if sub.dropped:
                continue
            try:
                if not sub.accept(msg):
                    continue
            except Exception:
                continue
            try:
                sub.queue.put_nowait(msg)
            except asyncio.QueueFull:
                sub.dropped = True
                self.dropped += 1
                self.subscribers.discard(sub)


def outbox_message(row: OutboxMessage) -> Message:
    return {"type": "event", "kind": row.kind, "id": row.id, "event_id": row.event_id,
            "data": dict(row.payload)}


# ---------------------------------------------------------------- SQLAlchemy hooks
def _listen() -> None:
    if _LISTENING[0]:
        return
    _LISTENING[0] = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)


# These run inside the engine's own flushes and commits: they must never raise into
# them (a failing observer would otherwise fail a fill's transaction).
def _after_flush(session: Session, _ctx: Any) -> None:
    try:
        rows = [o for o in session.new if isinstance(o, OutboxMessage)]
        if rows:
            session.info.setdefault(_KEY, []).extend(outbox_message(r) for r in rows)
    except Exception:
        log.exception("web hub: reading a flush failed")


def _after_commit(session: Session) -> None:
    msgs: list[Message] | None = session.info.pop(_KEY, None)
    if not msgs:
        return
    try:
        bind = session.get_bind()
        for hub in list(_HUBS):
            if hub.db is bind or (hub.db is not None
                                  and hub.db.url == getattr(bind, "url", None)):
                for m in msgs:
                    hub.last_outbox_id = max(hub.last_outbox_id, int(m.get("id") or 0))
                    hub.publish(dict(m))
    except Exception:
        log.exception("web hub: publishing a commit failed")


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
