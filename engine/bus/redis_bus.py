"""The bus on a Redis server: PUBLISH/PSUBSCRIBE for channels, XADD / XREADGROUP /
XACK / XAUTOCLAIM for streams (redis-py's asyncio client).

A consumer group is created the first time it reads, positioned at the start of the
stream (``0``, not ``$``): a worker that starts after the engine appended still gets
every entry. Streams are capped at ``maxlen`` entries (approximate trimming, Redis's
cheap form) so a bus nobody reads cannot fill the server's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from engine.bus.base import BusError, Entry

_FIELD = b"d"


class RedisBus:
    def __init__(self, url: str, *, maxlen: int = 100_000) -> None:
        try:
            import redis.asyncio as aredis
            from redis.exceptions import RedisError
        except ImportError as e:  # pragma: no cover - the redis extra is a dependency
            raise BusError("bus.url is a Redis URL but the redis package is missing: "
                           "pip install 'sentitrade[redis]'") from e
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._r: Any = aredis.from_url(url)
        self._url = url.split("@")[-1]  # never the password in a message
        self._maxlen = maxlen
        self._groups: set[tuple[str, str]] = set()

    def _fail(self, what: str, e: BaseException) -> BusError:
        return BusError(f"Redis bus at {self._url}: {what} failed: {type(e).__name__}: {e}")

    async def publish(self, channel: str, data: bytes) -> int:
        try:
            return int(await self._r.publish(channel, data))
        except self._errors as e:
            raise self._fail("publish", e) from e

    async def subscribe(self, pattern: str) -> AsyncIterator[tuple[str, bytes]]:
        ps = self._r.pubsub()
        try:
            await ps.psubscribe(pattern)
            while True:
                msg = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is not None and msg["type"] == "pmessage":
                    ch = msg["channel"]
                    yield (ch.decode() if isinstance(ch, bytes) else ch), msg["data"]
        except self._errors as e:
            raise self._fail("subscribe", e) from e
        finally:
            await ps.aclose()

    async def append(self, stream: str, data: bytes) -> str:
        try:
            eid = await self._r.xadd(stream, {_FIELD: data}, maxlen=self._maxlen,
                                     approximate=True)
        except self._errors as e:
            raise self._fail("append", e) from e
        return eid.decode() if isinstance(eid, bytes) else str(eid)

    async def _ensure_group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        try:
            await self._r.xgroup_create(stream, group, id="0", mkstream=True)
        except self._errors as e:
            if "BUSYGROUP" not in str(e):
                raise self._fail("create group", e) from e
        self._groups.add((stream, group))

    @staticmethod
    def _entries(stream: str, rows: Any, deliveries: int = 1) -> list[Entry]:
        out: list[Entry] = []
        for eid, fields in rows or []:
            if not fields:  # trimmed away while pending
                continue
            sid = eid.decode() if isinstance(eid, bytes) else str(eid)
            out.append(Entry(stream, sid, fields[_FIELD], deliveries))
        return out

    async def read_group(self, stream: str, group: str, consumer: str, *, count: int = 100,
                         block_ms: int = 1000) -> list[Entry]:
        await self._ensure_group(stream, group)
        try:
            res = await self._r.xreadgroup(group, consumer, {stream: ">"}, count=count,
                                           block=block_ms or None)
        except self._errors as e:
            raise self._fail("read", e) from e
        out: list[Entry] = []
        for _name, rows in res or []:
            out.extend(self._entries(stream, rows))
        return out

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        if not ids:
            return 0
        try:
            return int(await self._r.xack(stream, group, *ids))
        except self._errors as e:
            raise self._fail("ack", e) from e

    async def claim_stale(self, stream: str, group: str, consumer: str, *,
                          min_idle_ms: int, count: int = 100) -> list[Entry]:
        await self._ensure_group(stream, group)
        try:
            res = await self._r.xautoclaim(stream, group, consumer, min_idle_ms, "0-0",
                                           count=count)
            rows = res[1]
            if not rows:
                return []
            ids = [r[0] for r in rows]
            info = await self._r.xpending_range(stream, group, min=ids[0], max=ids[-1],
                                                count=len(ids) + 100)
        except self._errors as e:
            raise self._fail("claim", e) from e
        times = {(i["message_id"].decode() if isinstance(i["message_id"], bytes)
                  else str(i["message_id"])): int(i["times_delivered"]) for i in info}
        out = self._entries(stream, rows)
        return [Entry(e.stream, e.id, e.data, times.get(e.id, 2)) for e in out]

    async def pending(self, stream: str, group: str) -> int:
        await self._ensure_group(stream, group)
        try:
            info = await self._r.xpending(stream, group)
        except self._errors as e:
            raise self._fail("pending", e) from e
        return int(info["pending"])

    async def close(self) -> None:
        await self._r.aclose()
