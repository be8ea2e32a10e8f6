"""The bus interface both implementations satisfy, and the factory the settings use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from engine.errors import SentitradeError


class BusError(SentitradeError):
    """The bus is unreachable or a message cannot be read."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry as a consumer receives it."""

    stream: str
    id: str
    data: bytes
    deliveries: int = 1  # how many times it was handed out (> 1: a redelivery)


class EventBus(Protocol):
    """Pub/sub channels (may lose) and durable streams with consumer groups."""

    async def publish(self, channel: str, data: bytes) -> int:
        """Fan out to current subscribers; returns how many received it."""
        ...

    def subscribe(self, pattern: str) -> AsyncIterator[tuple[str, bytes]]:
        """(channel, data) for every message on channels matching the glob `pattern`,
        from the moment of subscription."""
        ...

    async def append(self, stream: str, data: bytes) -> str:
        """Add a durable entry; returns its id (ids increase within a stream)."""
        ...

    async def read_group(self, stream: str, group: str, consumer: str, *, count: int = 100,
                         block_ms: int = 1000) -> list[Entry]:
        """New entries for `group` (each goes to one consumer of the group), waiting up
        to `block_ms` for the first; they stay pending until `ack`."""
        ...

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        """Mark entries done for `group`; returns how many were pending."""
        ...

    async def claim_stale(self, stream: str, group: str, consumer: str, *,
                          min_idle_ms: int, count: int = 100) -> list[Entry]:
        """Take over entries another consumer of `group` has held unacknowledged for at
        least `min_idle_ms` (it died or hangs)."""
        ...

    async def pending(self, stream: str, group: str) -> int:
        """Entries handed out to `group` and not yet acknowledged."""
        ...

    async def close(self) -> None: ...
