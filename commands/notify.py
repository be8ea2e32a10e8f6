"""/notify: how alerts reach this chat, changed from the chat itself.

`/notify` shows the mode of every alert type here; `/notify <type|all> <mode>` sets
one (on, silent, off, digest) for this chat, stored in the `notify_modes` table over
the `[notify]` settings, so it survives a restart and needs no file edit; `/notify
reset` forgets this chat's own modes; on Discord `/notify dm on|off` sends your alerts
to you by direct message as well (the channel is a shared room).

The notifier reads the table again as soon as a mode changes here (`VERSION`, bumped
by every write in this process) and at least every `REFRESH_SECONDS` (a mode set by
another process), so a change applies to the next alert.

Who may change what: your own private chat (a Telegram private chat, your Discord DM,
the console) is yours; a shared chat (a group, the Discord channel) needs an admin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlmodel import col, delete, select

from commands.alerts import ALERT_TYPES
from commands.base import Command, Ctx, UsageError, has_role
from commands.reply import Reply
from engine.storage.db import SessionFactory
from engine.storage.dbtypes import utcnow
from engine.storage.models import NotifyMode

MODES = ("on", "silent", "off", "digest")
KINDS = (*ALERT_TYPES, "proposal_decided")
DM_KIND = "_dm"  # a row of kind "_dm" with mode "on": this Discord user wants DMs
ALL = "*"
REFRESH_SECONDS = 30.0
VERSION = [0]  # bumped by every write in this process: the notifier re-reads at once


def load_overrides(sessions: SessionFactory) -> dict[str, dict[str, str]]:
    """destination -> {alert type or "*": mode}, as set from the chats."""
    out: dict[str, dict[str, str]] = {}
    with sessions() as s:
        for r in s.exec(select(NotifyMode).where(NotifyMode.kind != DM_KIND)).all():
            out.setdefault(r.destination, {})[r.kind] = r.mode
    return out


def dm_users(sessions: SessionFactory) -> dict[str, float]:
    """Discord user id -> since when (epoch seconds) they asked for alerts by DM."""
    with sessions() as s:
        rows = s.exec(select(NotifyMode).where(NotifyMode.kind == DM_KIND,
                                               NotifyMode.mode == "on")).all()
    return {r.destination.removeprefix("discord:dm:"): r.updated_at.timestamp() for r in rows}


def _upsert(sessions: SessionFactory, dest: str, kind: str, mode: str, by: str) -> None:
    with sessions.begin() as s:
        row = s.exec(select(NotifyMode).where(NotifyMode.destination == dest,
                                              NotifyMode.kind == kind)).first()
        row = row or NotifyMode(destination=dest, kind=kind, mode=mode)
        row.mode, row.set_by, row.updated_at = mode, by[:96], utcnow()
        s.add(row)
    VERSION[0] += 1


def set_mode(sessions: SessionFactory, dest: str, kind: str, mode: str, by: str) -> None:
    """Store `mode` for `kind` in `dest`; `kind` "all" replaces every type's own mode."""
    if kind == "all":
        with sessions.begin() as s:
            s.exec(delete(NotifyMode).where(col(NotifyMode.destination) == dest,
                                            col(NotifyMode.kind) != DM_KIND))
        kind = ALL
    _upsert(sessions, dest, kind, mode, by)


def reset(sessions: SessionFactory, dest: str) -> int:
    """Forget the chat's own modes (the settings apply again); returns rows removed."""
    with sessions.begin() as s:
        res = s.exec(delete(NotifyMode).where(col(NotifyMode.destination) == dest,
                                              col(NotifyMode.kind) != DM_KIND))
        n = int(res.rowcount or 0)
    VERSION[0] += 1
    return n


def set_dm(sessions: SessionFactory, user_id: str, on: bool, by: str) -> None:
    _upsert(sessions, f"discord:dm:{user_id}", DM_KIND, "on" if on else "off", by)


class Cache:
    """Overrides and DM users read again when `VERSION` moved or `REFRESH_SECONDS`
    passed: one small query now and then, not one per alert."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self._seen = -1
        self._at = 0.0
        self.overrides: dict[str, dict[str, str]] = {}
        self.dms: dict[str, float] = {}

    def refresh(self, force: bool = False) -> bool:
        """Re-read when stale; True when something was read."""
        now = time.monotonic()
        if not force and self._seen == VERSION[0] and now - self._at < REFRESH_SECONDS:
            return False
        self._seen, self._at = VERSION[0], now
        self.overrides = load_overrides(self.sessions)
        self.dms = dm_users(self.sessions)
        return True


# ---------------------------------------------------------------- the command
@dataclass(frozen=True, slots=True)
class NotifyArgs:
    kind: str | None = None  # an alert type, "all", "dm", "reset"; None: show
    mode: str | None = None


def chat_of(ctx: Ctx, dms: bool) -> tuple[str, bool]:
    """(destination key of the chat the command came from, is it the caller's own)."""
    u = ctx.user
    if u.transport == "console":
        return "console", True
    if u.transport == "discord":
        if dms:
            return f"discord:dm:{u.user_id}", True
        return f"discord:{ctx.chat_id}", False
    chat = ctx.chat_id or u.user_id
    return f"{u.transport}:{chat}", chat == u.user_id


class NotifyCmd(Command[NotifyArgs]):
    """/notify: the alert modes of this chat, and changing them."""

    name = "notify"
    usage = "[TYPE|all on|silent|off|digest] | reset | dm on|off"
    summary = "how alerts reach this chat; change a type's mode"

    def parse(self, args: list[str]) -> NotifyArgs:
        words = [a.lower() for a in args]
        if not words:
            return NotifyArgs()
        if words == ["reset"]:
            return NotifyArgs("reset")
        if len(words) != 2:
            raise UsageError("e.g. /notify fill digest, /notify all on, /notify dm on")
        kind, mode = words
        if kind == "dm":
            if mode not in ("on", "off"):
                raise UsageError("/notify dm on or /notify dm off")
            return NotifyArgs("dm", mode)
        if kind != "all" and kind not in KINDS:
            raise UsageError("types: all, " + ", ".join(KINDS))
        if mode not in MODES:
            raise UsageError("modes: " + ", ".join(MODES))
        return NotifyArgs(kind, mode)

    async def run(self, ctx: Ctx, params: NotifyArgs) -> Reply:
        sessions, u = ctx.api.sessions, ctx.user
        if params.kind == "dm":
            if u.transport != "discord":
                return Reply("/notify dm is for Discord (Telegram alerts already come to "
                             "your private chat).", ok=False)
            set_dm(sessions, u.user_id, params.mode == "on", u.by)
            return Reply("Alerts by direct message: " + (
                "on. Your /notify changes now apply to your DMs." if params.mode == "on"
                else "off."))
        wants_dm = u.transport == "discord" and u.user_id in dm_users(sessions)
        dest, own = chat_of(ctx, wants_dm)
        if params.kind is not None and not own and not has_role(u.role, "admin"):
            hint = " (or /notify dm on for your own)" if u.transport == "discord" else ""
            return Reply(f"{dest} is a shared chat: only an admin changes its alerts{hint}.",
                         ok=False)
        if params.kind == "reset":
            n = reset(sessions, dest)
            return Reply(f"{dest}: {n} mode(s) forgotten; the [notify] settings apply.")
        if params.kind is not None and params.mode is not None:
            set_mode(sessions, dest, params.kind, params.mode, u.by)
            what = "every alert type" if params.kind == "all" else params.kind
            return Reply(f"{dest}: {what} {params.mode} (kept across restarts).")
        return Reply(describe(ctx, dest, load_overrides(sessions).get(dest, {})))


def describe(ctx: Ctx, dest: str, own: dict[str, str]) -> str:
    """Every type's effective mode in `dest`, marking the ones set from the chat."""
    cfg = ctx.api.settings.notify
    lines = [f"Alerts in {dest}:"]
    for k in KINDS:
        mine = own.get(k) or own.get(ALL)
        lines.append(f"  {k}: {mine} (set here)" if mine else f"  {k}: {cfg.mode(dest, k)}")
    window = cfg.digest_window_seconds
    lines.append(f"pending alerts sent together after {window:g}s" if window else
                 "one message per alert")
    lines.append(f"backlog over {cfg.queue_max} alerts: one summary; "
                 f"'digest' types every {cfg.digest_seconds:g}s")
    lines.append(f"quiet hours: {cfg.quiet_hours} {cfg.timezone} (silent)"
                 if cfg.quiet_hours else "quiet hours: none")
    lines.append("change: /notify TYPE|all on|silent|off|digest; /notify reset"
                 + ("; /notify dm on|off" if ctx.user.transport == "discord" else ""))
    return "\n".join(lines)
