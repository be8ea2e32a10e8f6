"""The event bus of the architecture notes: one interface, two implementations.

- `InMemoryBus` (the default; nothing to install): one process, the same semantics.
- `RedisBus` (``[bus] url = "redis://host:port/db"``): several processes or machines.

Two kinds of traffic, because they fail differently:
- **channels** (pub/sub) for what is fine to miss and replaced by the next message:
  market data (``market_data:{symbol}``). A subscriber that is down misses messages.
- **streams** (Redis Streams with consumer groups) for what must not be lost: signals
  (``bot_signals:{bot_id}``), order and trade updates (``trade_updates:{bot_id}``),
  alerts and ``system_events``. An entry stays pending in its group until a consumer
  acknowledges it; entries a dead consumer held are claimed by another after
  ``min_idle_ms`` (at-least-once; the domain events carry ids to drop repeats).

Messages are the engine's domain events, versioned and typed (`engine.bus.codec`).
"""

from __future__ import annotations

from engine.bus.base import BusError, Entry, EventBus
from engine.bus.channels import bot_signals, market_data, system_events, trade_updates
from engine.bus.codec import decode, encode

__all__ = ["BusError", "Entry", "EventBus", "bot_signals", "decode", "encode", "make_bus",
           "market_data", "system_events", "trade_updates"]


def make_bus(url: str | None) -> EventBus:
    """`InMemoryBus` for an empty url, `RedisBus` for ``redis://`` / ``rediss://``."""
    if not url:
        from engine.bus.memory import InMemoryBus

        return InMemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from engine.bus.redis_bus import RedisBus

        return RedisBus(url)
    raise BusError(f"bus.url {url!r}: use redis://host:port/db, or leave it empty for "
                   "the in-process bus")
