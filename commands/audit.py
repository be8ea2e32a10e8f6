"""The audit trail of the chat, and the admin commands that read it and manage users.

Every command and every button press is written to ``audit_log`` (who, what, when,
how it ended) by `Command.handle` and the button handler, whatever the outcome: a
refused /approve by a viewer is exactly what an admin wants to see. Writing the row
never blocks the answer: if the database refuses it, the failure is logged and the
user still gets the reply.

/users lists who may talk to the service and with which role: the settings'
``allowed_users`` (fixed until the config changes) and the users recorded in the
database; /role changes a recorded user's role at once, without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from commands.base import Command, Ctx, UsageError, opt_int
from commands.fmt import table, when
from commands.reply import Reply
from engine.storage.models import AuditEntry, User

ROLES = ("viewer", "trader", "admin", "blocked")


class AuditCmd(Command[int]):
    name, usage, summary, role = "audit", "[n]", "last n commands and presses (default 20)", (
        "admin")

    def parse(self, args: list[str]) -> int:
        return opt_int(args, 20, 1, 200)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        with ctx.api.sessions() as s:
            rows = list(s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())
                               .limit(params)).all())
        if not rows:
            return Reply("Nothing audited yet.")
        body = [[when(r.at), f"{r.transport}:{r.user_id}", r.user_name[:16], r.action,
                 r.args[:24], r.outcome] for r in rows]
        return Reply(table(["when", "who", "name", "what", "args", "outcome"], body),
                     monospace=True)


@dataclass(frozen=True, slots=True)
class _RoleArgs:
    transport: str
    user_id: str
    role: str


class Users(Command[None]):
    name, summary, role = "users", "who may use the bot, with roles", "admin"

    def parse(self, args: list[str]) -> None:
        if args:
            raise UsageError("this command takes no arguments")

    async def run(self, ctx: Ctx, params: None) -> Reply:
        st = ctx.api.settings
        rows = [["telegram", uid, r, "config"] for uid, r in st.telegram.allowed_users.items()]
        rows += [["discord", uid, r, "config"] for uid, r in st.discord.allowed_users.items()]
        with ctx.api.sessions() as s:
            for u in s.exec(select(User).order_by(col(User.id))).all():
                rows.append([u.transport, u.external_id, u.role,
                             f"db {u.display_name[:20]}".strip()])
        if not rows:
            return Reply("No users configured.")
        return Reply(table(["transport", "id", "role", "from"], rows), monospace=True)


class RoleCmd(Command[_RoleArgs]):
    name, usage, summary, role = ("role", "TRANSPORT:ID ROLE",
                                  "change a user's role (viewer, trader, admin, blocked)",
                                  "admin")

    def parse(self, args: list[str]) -> _RoleArgs:
        if len(args) != 2 or ":" not in args[0]:
            raise UsageError("like: /role telegram:123456 trader")
        transport, uid = args[0].split(":", 1)
        role = args[1].lower()
        if transport not in ("telegram", "discord") or not uid.isdigit() or len(uid) > 32:
            raise UsageError("transport is telegram or discord, the id a number")
        if role not in ROLES:
            raise UsageError(f"role is one of {', '.join(ROLES)}")
        return _RoleArgs(transport, uid, role)

    async def run(self, ctx: Ctx, params: _RoleArgs) -> Reply:
        st = ctx.api.settings
        listed = (st.telegram if params.transport == "telegram" else st.discord).allowed_users
        if params.user_id in listed:
            return Reply(f"{params.transport}:{params.user_id} is in the config's "
                         f"allowed_users as {listed[params.user_id]}; change it there.",
                         ok=False)
        if f"{params.transport}:{params.user_id}" == ctx.user.by:
            return Reply("You cannot change your own role.", ok=False)
        with ctx.api.sessions.begin() as s:
            u = s.exec(select(User).where(User.transport == params.transport)
                       .where(User.external_id == params.user_id)).first()
            if u is None:
                return Reply(f"No recorded user {params.transport}:{params.user_id}; "
                             f"/users lists them.", ok=False)
            old, u.role = u.role, params.role
            s.add(u)
        return Reply(f"{params.transport}:{params.user_id}: {old} -> {params.role}")


ADMIN: tuple[type[Command[Any]], ...] = (AuditCmd, Users, RoleCmd)
