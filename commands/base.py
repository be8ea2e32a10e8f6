"""The command protocol: a small object that parses its arguments and runs.

`Command.handle(ctx, args)` is the one entry point transports call. It checks the
caller's role, parses (a bad argument becomes the command's one-line usage), runs, and
turns any error into a short message: a user never sees a stack trace, and the real
error goes to the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from commands.auditlog import record
from commands.reply import Reply
from engine.errors import SentitradeError
from engine.service.api import TradingAPI

log = logging.getLogger("sentitrade.commands")

ROLE_RANK = {"viewer": 0, "trader": 1, "admin": 2}
MAX_ARGS = 16
MAX_ARG_LEN = 64


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is talking: transport, the transport's user id, a display name, the role."""

    transport: str
    user_id: str
    name: str
    role: str

    @property
    def by(self) -> str:
        """The audit string the engine records ("telegram:123")."""
        return f"{self.transport}:{self.user_id}"


@dataclass(slots=True)
class Ctx:
    """Everything a command may use: the engine API and the caller."""

    api: TradingAPI
    user: Identity
    chat_id: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


class UsageError(ValueError):
    """Arguments did not parse; the command answers with its usage line."""


def has_role(role: str, needed: str) -> bool:
    """True when `role` is at least `needed` (viewer < trader < admin)."""
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


P = TypeVar("P")


class Command(Generic[P]):
    """Base class: subclasses set `name`, `usage`, `summary`, `role`, and implement
    `parse` (pure, raises `UsageError`) and `run` (talks to the engine)."""

    name: ClassVar[str]
    usage: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    role: ClassVar[str] = "viewer"
    slow: ClassVar[bool] = False  # transports run it in a worker, acknowledging first

    def usage_line(self) -> str:
        return f"usage: /{self.name}{(' ' + self.usage) if self.usage else ''}"

    def parse(self, args: list[str]) -> P:
        raise NotImplementedError

    async def run(self, ctx: Ctx, params: P) -> Reply:
        raise NotImplementedError

    async def handle(self, ctx: Ctx, args: list[str]) -> Reply:
        """Role check, parse, run; never raises. Every call is audited (`audit_log`)."""
        outcome, reply = await self._handle(ctx, args)
        record(ctx.api.sessions, ctx.user, self.name, args[:MAX_ARGS], outcome,
               "" if reply.ok else reply.text)
        return reply

    async def _handle(self, ctx: Ctx, args: list[str]) -> tuple[str, Reply]:
        if not has_role(ctx.user.role, self.role):
            return "denied", Reply(f"/{self.name} needs the {self.role} role.", ok=False)
        try:
            if len(args) > MAX_ARGS or any(len(a) > 4 * MAX_ARG_LEN for a in args):
                raise UsageError("too many or too long arguments")
            params = self.parse(list(args))
        except UsageError as e:
            detail = str(e)
            line = self.usage_line()
            return "usage", Reply(f"{line}\n{detail}" if detail else line, ok=False)
        try:
            reply = await self.run(ctx, params)
            return ("ok" if reply.ok else "refused"), reply
        except SentitradeError as e:
            return "refused", Reply(str(e).splitlines()[0] if str(e) else type(e).__name__,
                                    ok=False)
        except Exception:
            log.exception("command /%s failed for %s", self.name, ctx.user.by)
            return "error", Reply(f"/{self.name} failed on our side; the error is in the log.",
                                  ok=False)


# ---------------------------------------------------------------- parsing helpers
def no_args(args: list[str]) -> None:
    if args:
        raise UsageError("this command takes no arguments")


def opt_int(args: list[str], default: int, lo: int, hi: int) -> int:
    """An optional single integer argument within [lo, hi]."""
    if not args:
        return default
    if len(args) > 1:
        raise UsageError("one number at most")
    raw = args[0]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise UsageError(f"expected a whole number from {lo} to {hi}")
    n = int(raw)
    if not lo <= n <= hi:
        raise UsageError(f"expected a whole number from {lo} to {hi}")
    return n


def req_id(args: list[str]) -> int:
    """Exactly one positive id (a leading # is accepted)."""
    if len(args) != 1:
        raise UsageError("give exactly one id")
    raw = args[0].removeprefix("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        raise UsageError("the id is a positive number")
    return int(raw)


def opt_name(args: list[str]) -> str | None:
    """An optional bot name (the settings' name pattern)."""
    if not args:
        return None
    if len(args) > 1:
        raise UsageError("one bot name at most")
    name = args[0]
    if not (1 <= len(name) <= 64) or not all(
        c.isascii() and (c.isalnum() or c in "_.-") for c in name
    ):
        raise UsageError("bot names use letters, digits, _ . -")
    return name


def split_args(text: str) -> tuple[str, list[str]]:
    """'/cmd@bot a b' -> ('cmd', ['a', 'b']); the command name is lower-cased."""
    parts = text.strip().split()
    if not parts:
        return "", []
    head = parts[0].removeprefix("/").split("@", 1)[0].lower()
    return head, parts[1:]
