"""Builds the configured chat transports and alert notifiers from Settings.

`build(settings, api)` returns a `ChatServices`: start it with the engine, stop it on
shutdown. A transport never stops the engine: each one connects in the background and
retries with backoff while its token is rejected or its API is down or slow, logging
one line (secrets masked) per failed try; its alerts wait in the outbox meanwhile.
Stopping sends what is queued for a few seconds (as digests) and leaves the rest in
the outbox for the next start. Its `notifier` drains the outbox to every destination
of every transport (Telegram chats, Discord channel, console); `engine_notifiers()` exposes the same
destinations through `engine.events.Notifier` (name + send) for the engine's own
OutboxDispatcher, if the lead prefers that one to drain. Use one or the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.console import ConsoleTransport
from bot.digest import Policy
from bot.notifier import Destination, Notifier, RetryLater, Sink, mask
from commands.alerts import format_alert
from commands.callbacks import CallbackSigner, derive_key
from commands.reply import Reply
from engine.service.api import TradingAPI
from engine.storage.config import Settings
from engine.storage.models import OutboxMessage, User

log = logging.getLogger("sentitrade.bot")


def make_signer(settings: Settings) -> CallbackSigner:
    """Button signer keyed by `telegram.callback_secret`, else the master key."""
    from engine.storage.secrets import load_master_key

    secret = settings.telegram.callback_secret
    if secret is not None and secret.get_secret_value():
        key = derive_key(secret.get_secret_value().encode())
    else:
        sec = settings.security
        key = derive_key(load_master_key(sec.master_key_env, sec.key_file))
    return CallbackSigner(key, ttl_seconds=settings.telegram.callback_ttl_seconds)


class SinkNotifier:
    """One destination as an `engine.events.Notifier` (name + async send)."""

    def __init__(self, api: TradingAPI, sink: Sink, dest: Destination,
                 max_flood_wait: float = 60.0) -> None:
        self.api, self.sink, self.dest = api, sink, dest
        self.name = dest.key
        self.max_flood_wait = max_flood_wait

    def _wanted(self, kind: str) -> bool:
        if self.dest.user is None:
            return True
        from sqlmodel import select

        with self.api.sessions() as s:
            u = s.exec(select(User).where(User.transport == self.dest.user[0],
                                          User.external_id == self.dest.user[1])).first()
        if u is None:
            return True
        return u.alerts_enabled and (not u.alert_types or kind in u.alert_types)

    async def send(self, message: OutboxMessage) -> str | None:
        if not self._wanted(message.kind):
            return "skipped"
        proposal = None
        if message.kind == "proposal" and message.payload.get("proposal_id") is not None:
            proposal = self.api.get_proposal(int(message.payload["proposal_id"]))
        reply: Reply = format_alert(message.kind, dict(message.payload), proposal)
        waited = 0.0
        while True:
            try:
                return await self.sink.send(self.dest, reply)
            except RetryLater as e:  # flood control is not a failure: wait, same message
                if waited + e.seconds > self.max_flood_wait:
                    raise
                waited += e.seconds
                await asyncio.sleep(e.seconds)


def describe(e: BaseException, transport: str) -> str:
    """One line saying what is wrong with a transport, secrets masked (libraries quote
    the token: python-telegram-bot's "The token `...` was rejected by the server.")."""
    name = type(e).__name__
    if name in ("InvalidToken", "LoginFailure") or "401" in str(e) or "Unauthorized" in str(e):
        return (f"{transport}: the token was rejected; store the right one with "
                f"`sentitrade config set-secret {transport}.token`")
    text = mask(str(e)).splitlines()[0][:200] if str(e) else ""
    return f"{transport}: {name}" + (f": {text}" if text else "")


@dataclass
class ChatServices:
    """The chat side of a running service: transports plus the outbox notifier."""

    api: TradingAPI
    sinks: list[Any]
    notifier: Notifier
    signer: CallbackSigner
    drain_on_stop: float = 2.0
    start_timeout: float = 60.0
    stop_timeout: float = 1.5
    retry_cap: float = 300.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _started: list[Any] = field(default_factory=list)

    def engine_notifiers(self) -> list[SinkNotifier]:
        return [SinkNotifier(self.api, s, d) for s in self.sinks for d in s.destinations()]

    async def _connect(self, sink: Any) -> None:
        """Start `sink`, retrying with capped backoff until it works or we stop."""
        name = getattr(sink, "transport", type(sink).__name__)
        delay, told = 1.0, ""
        while True:
            try:
                await asyncio.wait_for(sink.start(), self.start_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                why = (f"{name}: no answer within {self.start_timeout:.0f}s (API down or slow)"
                       if isinstance(e, TimeoutError) else describe(e, name))
                log.error("%s; retrying in %.0fs", why, delay)
                if why != told:  # the admins hear it on the other transports, once
                    told = why
                    self._tell_admins(name, why)
                try:
                    await asyncio.wait_for(sink.stop(), self.stop_timeout)
                except Exception as e2:  # a half-started client: nothing more to do
                    log.debug("%s cleanup: %s", name, mask(str(e2)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_cap)
                continue
            self._started.append(sink)
            if delay > 1.0:
                log.info("%s connected", name)
            return

    def _tell_admins(self, name: str, why: str) -> None:
        """An error alert in the outbox: routed to admins (bot.notifier), so a
        transport that cannot connect is reported on the ones that can."""
        from engine.events import JobFailed, record
        from engine.storage.dbtypes import utcnow

        try:
            with self.api.sessions.begin() as s:
                record(s, JobFailed(ts_event=utcnow(), job=f"{name} connection", error=why))
            self.notifier.wake()
        except Exception as e:  # the database is down too: the log line is all we have
            log.warning("could not record the %s error: %s", name, mask(str(e)))

    async def start(self, drain: bool = True) -> None:
        """Connect every transport in the background (never raises for one that is
        down), then start draining the outbox."""
        _stop_on_sigterm()
        for s in self.sinks:
            self._tasks.append(asyncio.create_task(self._connect(s),
                                                   name=f"sentitrade-connect-{type(s).__name__}"))
        await asyncio.sleep(0)
        if drain:
            await self.notifier.start()

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until every transport is connected (tests, the bench)."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        return not pending

    async def stop(self) -> None:
        """Drain for `drain_on_stop` seconds, then stop each transport (bounded)."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.notifier.stop(self.drain_on_stop)

        async def stop_one(s: Any) -> None:
            try:
                await asyncio.wait_for(s.stop(), self.stop_timeout)
            except Exception as e:
                log.warning("stopping %s: %s", type(s).__name__, describe(e, s.transport))

        await asyncio.gather(*(stop_one(s) for s in self._started))  # together: bounded
        self._started.clear()


def _stop_on_sigterm() -> None:
    """SIGTERM stops the service as Ctrl-C does, also where nothing else handles it (a
    replay runs without the service's signal handlers; the default would kill the
    process without draining alerts or closing the engine): the task that started the
    chat (the service's) is cancelled, so its cleanup runs."""
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the service (or the embedding program) handles it
    main = asyncio.current_task()
    if main is None:
        return
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)


def _stop_service() -> None:
    """`/quit` in the console stops the whole service, as Ctrl-C does (the service's
    SIGINT handler stops the jobs, drains alerts and closes the engine)."""
    import signal

    signal.raise_signal(signal.SIGINT)


def build(settings: Settings, api: TradingAPI, console: bool = True,
          extra: Sequence[Any] = ()) -> ChatServices:
    """Transports for every configured section (Telegram when a token is set, Discord
    when a token is set, the console when `console`), and one notifier over them."""
    signer = make_signer(settings)
    sinks: list[Any] = list(extra)
    if settings.telegram.token is not None and settings.telegram.token.get_secret_value():
        from bot.telegram import TelegramTransport

        sinks.append(TelegramTransport(settings, api, signer))
    if settings.discord.token is not None and settings.discord.token.get_secret_value():
        try:
            from bot.discord_bot import DiscordTransport
        except ImportError:  # pragma: no cover - optional transport not built
            log.warning("discord transport unavailable")
        else:
            sinks.append(DiscordTransport(settings, api, signer))
    con: ConsoleTransport | None = ConsoleTransport(api, signer) if console else None
    if con is not None:
        con.on_quit = _stop_service
        sinks.append(con)
    from engine.storage.secrets import secret_filter

    secret_filter().add(settings.secret_values())  # vault secrets too, for every log
    notifier = Notifier(api, sinks, policy=Policy(settings.notify))
    for s in sinks:
        if hasattr(s, "on_decided"):
            s.on_decided = notifier.proposal_decided
        if hasattr(s, "notifier"):
            s.notifier = notifier
    return ChatServices(api, sinks, notifier, signer,
                        drain_on_stop=settings.notify.drain_on_stop_seconds)
