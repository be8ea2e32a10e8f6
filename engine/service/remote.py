"""Commands that need an engine's prices and broker, from the chat/API process to the
engine worker that runs the shared jobs, as request/reply over the bus.

Most commands only read or change rows (status, trades, start/stop/pause, reject):
the chat and API processes do those on the store of record directly. Approving a
proposal and forcing an exit place an order, which needs the quotes and the broker of
a process that follows the market: the front process appends the request to the
``commands`` stream; the worker holding the ``*global*`` lease (it sees every candle,
so it has every symbol's price) runs it through the same `Engine` method and answers
on the asker's ``replies:{front}`` stream. A request still pending when that worker
dies is claimed by the next global worker; running it twice is harmless (approving is
idempotent, a second force exit finds the trade closed).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from engine.bus import EventBus
from engine.errors import ApprovalError, SentitradeError
from engine.service.api import Decision
from engine.service.engine import Engine
from engine.storage.models import Trade

COMMANDS = "commands"
GROUP = "engines"


class FrontEngine(Engine):
    """The chat/API process's engine: reads locally, sends what trades to a worker."""

    front_bus: EventBus
    front_name: str
    reply_timeout_s: float = 30.0

    async def _ask(self, method: str, **args: Any) -> dict[str, Any]:
        rid = str(uuid.uuid4())
        reply_to = f"replies:{self.front_name}"
        await self.front_bus.append(COMMANDS, json.dumps(
            {"id": rid, "method": method, "args": args, "reply_to": reply_to}).encode())
        deadline = time.monotonic() + self.reply_timeout_s
        while time.monotonic() < deadline:
            for e in await self.front_bus.read_group(reply_to, "front", "f", count=10,
                                                     block_ms=200):
                await self.front_bus.ack(reply_to, "front", e.id)
                msg = json.loads(e.data)
                if msg.get("id") != rid:
                    continue  # an answer to an earlier request that timed out
                if msg.get("error"):
                    cls = ApprovalError if msg.get("kind") == "ApprovalError" else SentitradeError
                    raise cls(str(msg["error"]))
                return dict(msg.get("result") or {})
        raise SentitradeError(f"no engine worker answered {method} within "
                              f"{self.reply_timeout_s:.0f} s: is an engine worker running?")

    async def approve(self, proposal_id: int, by: str) -> Decision:
        res = await self._ask("approve", proposal_id=proposal_id, by=by)
        p = self.get_proposal(proposal_id)
        assert p is not None
        return Decision(p, bool(res["changed"]), self._order_for(proposal_id),
                        str(res["message"]))

    async def force_exit(self, trade_id: int | None, by: str) -> list[Trade]:
        res = await self._ask("force_exit", trade_id=trade_id, by=by)
        with self.sessions() as s:
            return [t for t in (s.get(Trade, i) for i in res["trades"]) if t is not None]


async def _run(eng: Engine, method: str, args: dict[str, Any]) -> dict[str, Any]:
    if method == "approve":
        d = await eng.approve(int(args["proposal_id"]), str(args["by"]))
        return {"changed": d.changed, "message": d.message}
    if method == "force_exit":
        tid = args.get("trade_id")
        trades = await eng.force_exit(None if tid is None else int(tid), str(args["by"]))
        return {"trades": [t.id for t in trades]}
    raise SentitradeError(f"unknown command {method!r} on the bus (a newer front process?)")


async def serve_commands(eng: Engine, bus: EventBus, consumer: str, *,
                         stale_ms: int = 30_000) -> int:
    """Run the commands waiting on the bus (and those a dead worker held); returns how
    many. Called by the global worker between steps and while idle."""
    entries = await bus.claim_stale(COMMANDS, GROUP, consumer, min_idle_ms=stale_ms)
    entries += await bus.read_group(COMMANDS, GROUP, consumer, count=20, block_ms=0)
    for e in entries:
        msg = json.loads(e.data)
        out: dict[str, Any] = {"id": msg.get("id")}
        try:
            out["result"] = await _run(eng, str(msg.get("method")), dict(msg.get("args") or {}))
        except SentitradeError as err:
            out["error"], out["kind"] = str(err), type(err).__name__
        await bus.append(str(msg["reply_to"]), json.dumps(out).encode())
        await bus.ack(COMMANDS, GROUP, e.id)
    return len(entries)
