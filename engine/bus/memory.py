"""The in-process bus: the same semantics as Redis (fan-out channels that may lose;
streams with consumer groups, pending entries and claiming) inside one event loop."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from engine.bus.base import Entry

_QUEUE = 10_000  # per subscriber: a subscriber that falls this far behind loses messages


@dataclass(slots=True)
class _Pending:
    consumer: str
    since: float
    deliveries: int


@dataclass(slots=True)
class _Group:
    next_index: int = 0
    pending: dict[str, _Pending] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    ids: list[str] = field(default_factory=list)
    data: dict[str, bytes] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class InMemoryBus:
    def __init__(self) -> None:
        self._subs: list[tuple[str, asyncio.Queue[tuple[str, bytes]]]] = []
        self._streams: dict[str, _Stream] = {}

    async def publish(self, channel: str, data: bytes) -> int:
        n = 0
        for pattern, q in self._subs:
            if fnmatch.fnmatchcase(channel, pattern):
                if q.full():
                    q.get_nowait()  # drop the oldest: channels may lose, never block
                q.put_nowait((channel, data))
                n += 1
        return n

    async def subscribe(self, pattern: str) -> AsyncIterator[tuple[str, bytes]]:
        q: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_QUEUE)
        item = (pattern, q)
        self._subs.append(item)
        try:
            while True:
                yield await q.get()
        finally:
            if item in self._subs:  # close() may have dropped every subscription first
                self._subs.remove(item)

    def _stream(self, name: str) -> _Stream:
        s = self._streams.get(name)
        if s is None:
            s = self._streams[name] = _Stream()
        return s

    async def append(self, stream: str, data: bytes) -> str:
        s = self._stream(stream)
        s.seq += 1
        eid = f"{int(time.time() * 1000)}-{s.seq}"
        s.ids.append(eid)
        s.data[eid] = data
        s.changed.set()
        return eid

    async def read_group(self, stream: str, group: str, consumer: str, *, count: int = 100,
                         block_ms: int = 1000) -> list[Entry]:
        s = self._stream(stream)
        g = s.groups.setdefault(group, _Group())  # a new group reads from the start
        if g.next_index >= len(s.ids) and block_ms > 0:
            s.changed.clear()
            try:
                await asyncio.wait_for(s.changed.wait(), block_ms / 1000)
            except TimeoutError:
                return []
        take = s.ids[g.next_index:g.next_index + count]
        g.next_index += len(take)
        now = time.monotonic()
        for eid in take:
            g.pending[eid] = _Pending(consumer, now, 1)
        return [Entry(stream, eid, s.data[eid]) for eid in take]

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        g = self._stream(stream).groups.get(group)
        if g is None:
            return 0
        return sum(g.pending.pop(i, None) is not None for i in ids)

    async def claim_stale(self, stream: str, group: str, consumer: str, *,
                          min_idle_ms: int, count: int = 100) -> list[Entry]:
        s = self._stream(stream)
        g = s.groups.get(group)
        if g is None:
            return []
        now = time.monotonic()
        out: list[Entry] = []
        for eid, p in g.pending.items():
            if len(out) >= count:
                break
            if (now - p.since) * 1000 >= min_idle_ms:
                p.consumer, p.since, p.deliveries = consumer, now, p.deliveries + 1
                out.append(Entry(stream, eid, s.data[eid], p.deliveries))
        return out

    async def pending(self, stream: str, group: str) -> int:
        g = self._stream(stream).groups.get(group)
        return 0 if g is None else len(g.pending)

    async def close(self) -> None:
        self._subs.clear()
