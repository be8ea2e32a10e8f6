"""BotManager: many bots per process; their state lives in the `bots` table.

Bots are declared in settings (`[[bots]]`); `sync_specs` creates missing rows and
updates strategy/symbols/timeframe of existing ones but never touches `state`, so a bot
that was running (or paused, or stopped by a breaker) comes back exactly so after a
restart. Start/stop/pause are transition-table moves recorded with who asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import select

from engine.clock import Clock
from engine.errors import SentitradeError
from engine.execution.fsm import FSM
from engine.storage.config import BotSpec, Settings
from engine.storage.db import SessionFactory
from engine.storage.models import Bot, BotState

B = BotState
BOT_FSM = FSM("bot", {
    (B.STOPPED, "start"): B.RUNNING,
    (B.PAUSED, "start"): B.RUNNING,
    (B.RUNNING, "start"): B.RUNNING,
    (B.RUNNING, "pause"): B.PAUSED,
    (B.PAUSED, "pause"): B.PAUSED,
    (B.RUNNING, "stop"): B.STOPPED,
    (B.PAUSED, "stop"): B.STOPPED,
    (B.STOPPED, "stop"): B.STOPPED,
})


class UnknownBot(SentitradeError):
    """No bot of that name (the message lists the known ones)."""


class BotManager:
    def __init__(self, sessions: SessionFactory, settings: Settings, clock: Clock) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self._cache: list[Bot] | None = None

    def sync_specs(self, specs: Sequence[BotSpec] | None = None, *,
                   initial_state: str = BotState.RUNNING) -> list[Bot]:
        """Make the table match the configured bots; new bots start in `initial_state`."""
        specs = list(self.settings.bots if specs is None else specs)
        mode = self.settings.exchange.mode
        out: list[Bot] = []
        self._cache = None
        with self.sessions.begin() as s:
            for spec in specs:
                bot = s.exec(select(Bot).where(Bot.name == spec.name)).first()
                approval = spec.approval_mode or self.settings.approvals.mode
                if bot is None:
                    bot = Bot(name=spec.name, state=initial_state, state_changed_by="config",
                              created_at=self.clock.now(), updated_at=self.clock.now(),
                              strategy=spec.strategy, symbols=list(spec.symbols),
                              timeframe=spec.timeframe, mode=mode, approval_mode=approval)
                    s.add(bot)
                else:
                    bot.strategy, bot.symbols = spec.strategy, list(spec.symbols)
                    bot.timeframe, bot.mode, bot.approval_mode = spec.timeframe, mode, approval
                s.flush()
                out.append(bot)
        return out

    def all(self) -> list[Bot]:
        """All bots (cached: this manager is the only writer of bot state)."""
        if self._cache is None:
            with self.sessions() as s:
                self._cache = list(s.exec(select(Bot).order_by(Bot.name)).all())
        return list(self._cache)

    def invalidate(self) -> None:
        self._cache = None

    def get(self, name: str | None) -> Bot:
        bots = self.all()
        if name is None:
            if len(bots) == 1:
                return bots[0]
            raise UnknownBot("several bots: name one of " + ", ".join(b.name for b in bots))
        for b in bots:
            if b.name == name:
                return b
        raise UnknownBot(f"no bot named {name!r}: known bots are "
                         + (", ".join(b.name for b in bots) or "none"))

    def set_state(self, name: str | None, trigger: str, by: str,
                  at: datetime | None = None) -> Bot:
        target = self.get(name)
        self._cache = None
        with self.sessions.begin() as s:
            bot = s.get(Bot, target.id)
            assert bot is not None
            new = BOT_FSM.next(bot.state, trigger)
            if new != bot.state:
                bot.state = new
                bot.state_changed_by = by
                bot.updated_at = at or self.clock.now()
            return bot

    def stop_all(self, by: str) -> list[Bot]:
        out: list[Bot] = []
        for b in self.all():
            out.append(self.set_state(b.name, "stop", by))
        return out
