"""Builds the configured chat transports and alert notifiers from Settings.

`build(settings, api)` returns a `ChatServices`: start it with the engine, stop it on
shutdown. Its `notifier` drains the outbox to every destination of every transport
(Telegram chats, Discord channel, console); `engine_notifiers()` exposes the same
destinations through `engine.events.Notifier` (name + send) for the engine's own
OutboxDispatcher, if the lead prefers that one to drain. Use one or the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.console import ConsoleTransport
from bot.notifier import Destination, Notifier, RetryLater, Sink
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


@dataclass
class ChatServices:
    """The chat side of a running service: transports plus the outbox notifier."""

    api: TradingAPI
    sinks: list[Any]
    notifier: Notifier
    signer: CallbackSigner
    _started: list[Any] = field(default_factory=list)

    def engine_notifiers(self) -> list[SinkNotifier]:
        return [SinkNotifier(self.api, s, d) for s in self.sinks for d in s.destinations()]

    async def start(self, drain: bool = True) -> None:
        for s in self.sinks:
            await s.start()
            self._started.append(s)
        if drain:
            await self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop()
        for s in reversed(self._started):
            try:
                await s.stop()
            except Exception:
                log.exception("stopping %s failed", type(s).__name__)
        self._started.clear()


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
        sinks.append(con)
    notifier = Notifier(api, sinks)
    for s in sinks:
        if hasattr(s, "on_decided"):
            s.on_decided = notifier.proposal_decided
        if hasattr(s, "notifier"):
            s.notifier = notifier
    return ChatServices(api, sinks, notifier, signer)
