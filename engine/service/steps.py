"""The candle steps the collector hands to the engine workers, on the wire.

A step is every candle that closed at one instant (as `ReplayFeed.steps` yields them):
``{"ts": close_ms, "bars": [[symbol, tf, close_ms, o, h, l, c, v, next_open, tick,
next_tick], ...]}``; ``{"end": true}`` closes a replay. JSON keeps floats exact (Python
writes the shortest repr that reads back to the same double), so a worker computes on
the very numbers a single process would.

Streams, not pub/sub, carry the steps: a worker that restarts or takes over a bot
must see every candle. Each worker reads them in its own consumer group
(``engine:{worker}``: every worker gets every step); it answers each step on
``steps_done`` with the bots it ran, and in a replay the collector waits for every bot
to be answered before it sends the next step (lockstep: the run is the single process's,
step for step). Every candle is also published on ``market_data:{symbol}`` for
whoever watches live (the API, a dashboard), which may miss one.
"""

from __future__ import annotations

import json
from typing import Any

from engine.clock import ms_to_dt
from engine.data.candles import Bar

STEPS = "market_steps"
DONE = "steps_done"


def bar_row(b: Bar) -> list[Any]:
    return [b.symbol, b.timeframe, b.close_ms, b.open, b.high, b.low, b.close, b.volume,
            b.next_open, b.tick, b.next_tick]


def row_bar(r: list[Any]) -> Bar:
    return Bar(r[0], r[1], ms_to_dt(int(r[2])), float(r[3]), float(r[4]), float(r[5]),
               float(r[6]), float(r[7]), None if r[8] is None else float(r[8]),
               int(r[9]), int(r[10]))


def encode_step(ts: int, bars: list[Bar]) -> bytes:
    return json.dumps({"ts": ts, "bars": [bar_row(b) for b in bars]},
                      separators=(",", ":")).encode()


def encode_end() -> bytes:
    return b'{"end":true}'


def decode_step(raw: bytes) -> tuple[int, list[Bar]] | None:
    """(ts, bars), or None for the end of a replay."""
    msg = json.loads(raw)
    if msg.get("end"):
        return None
    return int(msg["ts"]), [row_bar(r) for r in msg["bars"]]


def encode_done(worker: str, ts: int, bots: list[str]) -> bytes:
    return json.dumps({"worker": worker, "ts": ts, "bots": sorted(bots)},
                      separators=(",", ":")).encode()


def decode_done(raw: bytes) -> tuple[str, int, list[str]]:
    msg = json.loads(raw)
    return str(msg["worker"]), int(msg["ts"]), [str(b) for b in msg["bots"]]
