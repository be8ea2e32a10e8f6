"""Raw market-data messages into the database, for audit: `RawArchive`.

The feed's hot path only appends ``(arrival ms, provider, payload)`` to three lists; a
background task takes them every `flush_s` (or as soon as they hold `batch` messages)
and stores each provider's share as ONE row (`pack`: the arrival times and the
messages one per line, each zlib-compressed; packed on the loop in slices, inserted
from a worker thread: `write_async`). A row per message
cost ~14 us of SQLite each on the core the feed runs on (the feed fell from 61,000 to
35,000 messages/s); a JSON array per batch still ~8 us (escaping, then the
volume). `read_raw` gives the messages back one by one. Rows whose last
message is older than `retention_hours` are deleted every `prune_every_s` (a batch
spans `flush_s`, so a message outlives its retention by at most that).

If the database cannot keep up, the buffer is capped at `max_buffer` messages: the
oldest unwritten ones are dropped and counted (`dropped`), never the trading path
blocked. A failed write is logged and counted; the batch is dropped, not retried
forever (raw messages are evidence, not state: the candles and trades are stored
elsewhere).

Used as a feed listener (`StreamFeed.listeners`, which calls `on_raw` per trade) by a
streaming service (`engine.data.live`, ``[collector] raw_retention_hours > 0``), and as
the `archive` of a `DataCollector`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from array import array
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.data.stream import Tick
from engine.storage.models import RawMessage

log = logging.getLogger("sentitrade.raw")


Batch = tuple[list[int], list[str], list[Any]]


def _groups(batch: Batch) -> list[tuple[str, list[int], list[Any]]]:
    """A batch split by provider (one row each), arrival order kept."""
    ms, prov, msgs = batch
    if prov[0] == prov[-1] and prov.count(prov[0]) == len(prov):
        return [(prov[0], ms, msgs)]
    by: dict[str, tuple[list[int], list[Any]]] = {}
    for at, p, x in zip(ms, prov, msgs, strict=True):
        g = by.setdefault(p, ([], []))
        g[0].append(at)
        g[1].append(x)
    return [(p, g[0], g[1]) for p, g in by.items()]


def _row(provider: str, times: list[int], arrivals: bytes, payload: bytes) -> dict[str, Any]:
    return {"received_at": _dt(times[0]), "last_at": _dt(times[-1]),
            "provider": provider[:32], "count": len(times), "arrivals": arrivals,
            "payload": payload}


def _line(x: Any) -> str:
    """One message as one line: a text message as received, unless it holds a newline
    or starts with a quote (then as a JSON string literal, which starts with a quote:
    exchange messages are JSON objects or arrays, so nothing else does); a parsed
    object as its JSON."""
    if isinstance(x, bytes):
        x = x.decode("utf-8", "replace")
    if isinstance(x, str):
        return json.dumps(x) if "\n" in x or x[:1] == '"' else x
    return json.dumps(x, separators=(",", ":"), default=str)


def _line_fast(x: Any) -> str:
    return x if isinstance(x, str) and "\n" not in x and x[:1] != '"' else _line(x)


def pack(arrivals: list[int], messages: list[Any]) -> tuple[bytes, bytes]:
    """A batch as two zlib blobs: the arrival times (int64 array) and the messages one
    per line. Raw messages are the exchange's bytes, ~190 a trade: at 50,000 a second
    their volume is what costs (JSON-escaping them all cost 4 us each, writing them
    uncompressed as much again on the feed's core); fast zlib shrinks them ~8x."""
    lines = [_line_fast(x) for x in messages]
    return (zlib.compress(array("q", arrivals).tobytes(), 1),
            zlib.compress("\n".join(lines).encode(), 1))


def unpack(arrivals: bytes, payload: bytes) -> list[tuple[int, str]]:
    """`pack` undone: ``(arrival ms, message text)`` in arrival order (a parsed object
    comes back as its JSON text)."""
    ms = array("q")
    ms.frombytes(zlib.decompress(arrivals))
    lines = zlib.decompress(payload).decode().split("\n")
    return [(t, json.loads(x) if x[:1] == '"' else x) for t, x in zip(ms, lines, strict=True)]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def read_raw(engine: sa.Engine, since: datetime, until: datetime | None = None,
             provider: str | None = None) -> Iterator[tuple[int, str, str]]:
    """The stored messages that arrived in [since, until), one by one, oldest first:
    ``(arrival ms, provider, message text)`` (audit; not a hot path)."""
    t = RawMessage.__table__  # type: ignore[attr-defined]
    q = sa.select(t.c.provider, t.c.arrivals, t.c.payload).where(t.c.last_at >= since)
    if until is not None:
        q = q.where(t.c.received_at < until)
    if provider is not None:
        q = q.where(t.c.provider == provider)
    lo = int(since.timestamp() * 1000)
    hi = int(until.timestamp() * 1000) if until is not None else None
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(t.c.received_at, t.c.id)).all()
    for prov, arrivals, payload in rows:
        for ms, msg in unpack(arrivals, payload):
            if ms >= lo and (hi is None or ms < hi):
                yield ms, prov, msg


class RawArchive:
    """Batched writer and pruner of the `raw_messages` table."""

    def __init__(self, engine: sa.Engine, retention_hours: float, *, batch: int = 5000,
                 flush_s: float = 1.0, prune_every_s: float = 300.0,
                 max_buffer: int = 500_000, slice_n: int = 1000,
                 now_ms: Callable[[], int] | None = None) -> None:
        if retention_hours <= 0:
            raise ValueError("retention_hours must be positive (0 means: do not archive)")
        self.engine = engine
        self.retention = timedelta(hours=retention_hours)
        self.batch = batch
        self.flush_s = flush_s
        self.prune_every_s = prune_every_s
        self.max_buffer = max_buffer
        self.slice_n = slice_n
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.written = 0
        self.pruned = 0
        self.dropped = 0
        self.failures = 0
        self._ms: list[int] = []
        self._prov: list[str] = []
        self._msg: list[Any] = []
        self._table = RawMessage.__table__  # type: ignore[attr-defined]
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_prune = 0.0
        self._closing = False

    # ------------------------------------------------------------ the hot path
    def on_raw(self, provider: str, payload: Any) -> None:
        self.add(self.now_ms(), provider, payload)

    def add(self, now_ms: int, provider: str, payload: Any) -> None:
        """`on_raw` with the arrival time the caller already has (the collector). Three
        flat lists, no tuple per message: ints and strs are not tracked by the garbage
        collector, so a full buffer costs no collection time."""
        self._ms.append(now_ms)
        self._prov.append(provider)
        msgs = self._msg
        msgs.append(payload)
        if len(msgs) >= self.batch:
            self._wake.set()
            if len(msgs) > self.max_buffer:
                cut = len(msgs) - self.max_buffer
                del msgs[:cut], self._ms[:cut], self._prov[:cut]
                self.dropped += cut

    # the rest of a feed listener: raw messages only
    def on_tick(self, tick: Tick) -> None:
        return None

    def on_feed_error(self, stream: str, error: BaseException) -> None:
        return None

    def on_stale(self, stream: str, silent_s: float) -> None:
        return None

    def on_recovered(self, stream: str) -> None:
        return None

    # ------------------------------------------------------------ writing
    def take(self) -> Batch:
        """The buffered messages, handed over (on the loop's thread: the feed appends
        there, so nothing can be appended to lists already taken)."""
        out = (self._ms, self._prov, self._msg)
        self._ms, self._prov, self._msg = [], [], []
        return out

    def flush(self) -> int:
        """Write what is buffered now (sync, on the caller's thread)."""
        return self.write(self.take())

    def write(self, batch: Batch) -> int:
        """Pack and insert a batch here and now (shutdown, tests), see `pack`."""
        if not batch[2]:
            return 0
        try:
            rows = [_row(p, times, *pack(times, x)) for p, times, x in _groups(batch)]
        except Exception:
            self.failures += 1
            log.exception("packing %d raw messages failed: dropped", len(batch[2]))
            return 0
        return self._insert(rows, len(batch[2]))

    async def write_async(self, batch: Batch) -> int:
        """Pack on the loop in slices of `slice_n` messages (zlib stream), yielding
        between slices, then insert in a worker thread. Packing is CPU on the feed's own
        core wherever it runs; on the loop it costs that CPU only, where a worker thread
        packing a whole batch also costs GIL hand-offs with the reading loop (measured:
        0.65x of the feed's throughput with raw on, against ~0.9x this way)."""
        if not batch[2]:
            return 0
        rows = []
        for p, times, x in _groups(batch):
            z = zlib.compressobj(1)
            parts = []
            for k in range(0, len(x), self.slice_n):
                text = "\n".join([_line_fast(m) for m in x[k:k + self.slice_n]])
                parts.append(z.compress((text if k == 0 else "\n" + text).encode()))
                await asyncio.sleep(0)
            parts.append(z.flush())
            arrivals = zlib.compress(array("q", times).tobytes(), 1)
            rows.append(_row(p, times, arrivals, b"".join(parts)))
        return await asyncio.to_thread(self._insert, rows, len(batch[2]))

    def _insert(self, rows: list[dict[str, Any]], n: int) -> int:
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(self._table), rows)
        except Exception:
            self.failures += 1
            log.exception("writing %d raw messages failed: dropped", n)
            return 0
        self.written += n
        return n

    def prune(self, now_ms: int | None = None) -> int:
        """Delete the messages older than the retention; returns how many."""
        now = _dt(now_ms or self.now_ms())
        col = self._table.c.last_at
        try:
            with self.engine.begin() as conn:
                n = conn.execute(sa.delete(self._table).where(col < now - self.retention))
        except Exception:
            self.failures += 1
            log.exception("pruning raw messages failed")
            return 0
        self.pruned += n.rowcount or 0
        return n.rowcount or 0

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            if self._msg:
                await self.write_async(self.take())
            mono = time.monotonic()
            if mono - self._last_prune >= self.prune_every_s and not self._closing:
                self._last_prune = mono
                await asyncio.to_thread(self.prune)

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="raw-archive")

    async def close(self) -> None:
        """Stop the writer after the batch it is writing (never cancelled halfway: two
        writers at once would contend for the database), then write what is left."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await asyncio.to_thread(self.write, self.take())
