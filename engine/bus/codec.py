"""Domain events on the wire: a versioned, typed JSON envelope.

``{"v": 1, "type": "OrderFilled", "data": {...}}`` with Decimals as strings (exact)
and datetimes in ISO 8601 with their offset. JSON over msgpack: the events are small
(a fill is ~400 bytes), every language and `redis-cli` can read them, and the
standard library encodes one in a few microseconds; what the bus spends is the network
round trip, not the encoding. A reader refuses an envelope of an unknown version or
type with a `BusError` naming it, rather than guessing.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from engine.bus.base import BusError
from engine.events import DomainEvent

VERSION = 1


def envelope(type_name: str, data: dict[str, Any]) -> bytes:
    """The wire form of an event's plain payload (`DomainEvent.payload`, or an outbox
    row's, which is that payload)."""
    data = {k: v for k, v in data.items() if k != "type"}
    return json.dumps({"v": VERSION, "type": type_name, "data": data},
                      separators=(",", ":")).encode()


def encode(event: DomainEvent) -> bytes:
    return envelope(type(event).__name__, event.payload())


@cache
def _classes() -> dict[str, type[DomainEvent]]:
    out: dict[str, type[DomainEvent]] = {}
    todo: list[type[DomainEvent]] = [DomainEvent]
    while todo:
        c = todo.pop()
        out[c.__name__] = c
        todo.extend(c.__subclasses__())
    return out


@cache
def _hints(name: str) -> dict[str, Any]:
    import engine.events as ev

    return typing.get_type_hints(_classes()[name], vars(ev))


def _convert(tp: Any, v: Any) -> Any:
    if v is None:
        return None
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _convert(real[0], v) if len(real) == 1 else v
    if tp is Decimal:
        return Decimal(v)
    if tp is datetime:
        return datetime.fromisoformat(v)
    return v


def decode(raw: bytes | str) -> DomainEvent:
    try:
        env = json.loads(raw)
        version, name, data = env["v"], env["type"], env["data"]
    except (ValueError, KeyError, TypeError) as e:
        raise BusError(f"not a bus message: {e}") from e
    if version != VERSION:
        raise BusError(f"bus message version {version!r}; this process reads {VERSION}")
    cls = _classes().get(name)
    if cls is None:
        raise BusError(f"unknown event type {name!r} on the bus (a newer sender?)")
    hints = _hints(name)
    kwargs = {f.name: _convert(hints.get(f.name), data[f.name])
              for f in dataclasses.fields(cls) if f.name in data}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise BusError(f"{name}: {e}") from e
