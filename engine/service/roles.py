"""`sentitrade run --role all|collector|engine|chat|api`: one service, split by role.

- ``all`` (the default): today's single process (`engine.service.scheduler.serve`).
- ``collector``: reads each symbol's candles once and sends them to every worker
  (`engine.service.collector_role`).
- ``engine``: a worker running the bots it holds leases on (`engine.service.worker`);
  start as many as the bots need, on as many machines.
- ``chat`` / ``api``: the people's side. They read the store of record (Postgres) for
  every view, and deliver the outbox's alerts to their own destinations (the chat's
  Telegram/Discord chats, an ``--alerts-file``): each destination is drained by one
  process, so an alert reaches it exactly once whichever worker wrote it.

Every role but ``all`` needs ``[bus] url`` (Redis) and a database every process can
reach (Postgres), with the schema migrated first (``sentitrade db upgrade``): workers
do not race each other to migrate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence

from engine.bus import EventBus, make_bus
from engine.clock import Clock, ManualClock, SystemClock, ms_to_dt
from engine.errors import SentitradeError
from engine.outbox import Notifier, OutboxDispatcher
from engine.service.api import Attachment, TradingAPI
from engine.service.steps import STEPS, decode_step
from engine.storage.config import Settings

ROLES = ("all", "collector", "engine", "chat", "api")
log = logging.getLogger("sentitrade.roles")


def default_worker_id() -> str:
    """host:pid, unique among live workers (a restarted worker gets a new one)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def check_role(settings: Settings, role: str) -> None:
    """One clear line when a split role cannot work with these settings."""
    if role not in ROLES:
        raise SentitradeError(f"--role {role!r}: one of {', '.join(ROLES)}")
    if role == "all":
        return
    if not settings.bus.url:
        raise SentitradeError(f"--role {role} talks to the other processes over Redis: set "
                              "bus.url (SENTITRADE_BUS__URL) to redis://host:6379/0, or run "
                              "--role all")
    if settings.database.url.startswith("sqlite") and ":memory:" in settings.database.url:
        raise SentitradeError(f"--role {role}: an in-memory database cannot be shared; use "
                              "Postgres (database.url = \"postgresql://...\")")


async def run_front(settings: Settings, bus: EventBus, name: str, *,
                    notifiers: Sequence[Notifier] = (),
                    attach: Callable[[TradingAPI], Attachment] | None = None,
                    serving: bool = False, stop: asyncio.Event) -> None:
    """The chat or API process: views over the database, its own alert destinations.

    In a replay it follows the collector's steps (its clock is the replay's, as in one
    process) and, unless it is `serving` someone (a chat token, the console, the API),
    leaves after the replay's end once its destinations have every alert."""
    from engine.service.remote import FrontEngine

    replay = settings.exchange.mode == "replay"
    clock: Clock = ManualClock() if replay else SystemClock()
    eng = FrontEngine(settings, clock=clock, notifiers=list(notifiers) or [_Nowhere()])
    eng.front_bus, eng.front_name = bus, name
    eng.outbox = OutboxDispatcher(eng.sessions, list(notifiers), clock)
    attached = attach(eng) if attach is not None else None
    if attached is not None:
        await attached.start()
    group = f"front:{name}"
    try:
        while not stop.is_set():
            ended = False
            for e in await bus.read_group(STEPS, group, name, count=500, block_ms=200):
                msg = decode_step(e.data)
                if msg is None:
                    ended = True
                elif isinstance(clock, ManualClock):
                    clock.set(ms_to_dt(msg[0]))
                await bus.ack(STEPS, group, e.id)
            await eng.outbox.drain()
            if ended and not serving:
                break
    finally:
        if attached is not None:
            await attached.stop()
        await eng.outbox.drain()
        await eng.close()


class _Nowhere:
    """The front engine's placeholder destination (its real ones drain separately)."""

    name = "front"

    async def send(self, message: object) -> None:
        return None


async def serve_role(settings: Settings, role: str, *, worker_id: str | None = None,
                     notifiers: Sequence[Notifier] = (),
                     attach: Callable[[TradingAPI], Attachment] | None = None,
                     console: bool = False) -> None:
    """Run one split role until it is done (a replay's end) or SIGINT/SIGTERM."""
    from engine.service.scheduler import _on_signals

    check_role(settings, role)
    stop = asyncio.Event()
    _on_signals(stop)
    bus = make_bus(settings.bus.url)
    name = worker_id or default_worker_id()
    try:
        if role == "collector":
            from engine.service.collector_role import run_collector

            await run_collector(settings, bus, stop)
        elif role == "engine":
            from engine.service.worker import EngineWorker

            n = await EngineWorker(settings, bus, name, notifiers=notifiers).run(stop)
            log.info("engine worker %s: %d steps", name, n)
        else:
            serving = attach is not None and (role == "api" or console or bool(
                settings.telegram.token or settings.discord.token))
            await run_front(settings, bus, f"{role}:{name}", notifiers=notifiers,
                            attach=attach, serving=serving, stop=stop)
    finally:
        await bus.close()
