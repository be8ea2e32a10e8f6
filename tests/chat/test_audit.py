"""The audit trail: every command and button press with who, what and how it ended;
/audit, /users and /role for admins."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, select

from bot.actions import press
from commands import dispatch
from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner
from engine.storage.models import AuditEntry, User
from tests.chat.fake_api import FakeEngine


def _trail(engine: FakeEngine) -> list[tuple[str, str, str, str]]:
    with engine.sessions() as s:
        rows = s.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [(r.role, r.action, r.args, r.outcome) for r in rows]


async def test_every_command_is_audited_with_its_outcome(ctx_for: Callable[[str], Ctx],
                                                         engine: FakeEngine) -> None:
    pid = engine.propose()
    await dispatch(ctx_for("viewer"), "approve", [str(pid)])
    await dispatch(ctx_for("viewer"), "trades", ["lots"])
    await dispatch(ctx_for("viewer"), "status", [])
    await dispatch(ctx_for("trader"), "approve", [str(pid)])
    await dispatch(ctx_for("trader"), "approve", ["999"])
    assert _trail(engine) == [
        ("viewer", "approve", str(pid), "denied"),
        ("viewer", "trades", "lots", "usage"),
        ("viewer", "status", "", "ok"),
        ("trader", "approve", str(pid), "ok"),
        ("trader", "approve", "999", "refused"),
    ]
    denied = await dispatch(ctx_for("trader"), "audit", [])
    assert not denied.ok and "admin" in denied.text
    text = (await dispatch(ctx_for("admin"), "audit", ["3"])).text
    lines = text.splitlines()
    assert len(lines) == 2 + 3  # header, rule, three newest rows
    assert "audit" in lines[2] and "denied" in lines[2]  # newest first: the refused /audit


async def test_button_presses_are_audited(engine: FakeEngine, signer: CallbackSigner) -> None:
    pid = engine.propose()
    viewer = Identity("telegram", "222", "bob", "viewer")
    trader = Identity("telegram", "111", "alice", "trader")
    await press(engine, signer, viewer, signer.sign("approve", pid))
    await press(engine, signer, trader, signer.sign("approve", pid))
    await press(engine, signer, trader, "forged-payload")
    assert _trail(engine) == [("viewer", "button:approve", str(pid), "refused"),
                              ("trader", "button:approve", str(pid), "ok"),
                              ("trader", "button:invalid", "", "refused")]


async def test_users_and_role_changes(ctx_for: Callable[[str], Ctx], engine: FakeEngine) -> None:
    with engine.sessions.begin() as s:
        s.add(User(transport="telegram", external_id="444", display_name="carol",
                   role="viewer"))
    admin = ctx_for("admin")
    users = (await dispatch(admin, "users", [])).text
    assert "111" in users and "config" in users and "444" in users and "carol" in users
    r = await dispatch(admin, "role", ["telegram:444", "trader"])
    assert r.ok and "viewer -> trader" in r.text
    with engine.sessions() as s:
        u = s.exec(select(User).where(User.external_id == "444")).one()
        assert u.role == "trader"
    fixed = await dispatch(admin, "role", ["telegram:222", "admin"])
    assert not fixed.ok and "config" in fixed.text
    assert not (await dispatch(admin, "role", ["telegram:444", "king"])).ok
    assert not (await dispatch(admin, "role", ["telegram:999", "viewer"])).ok
    assert not (await dispatch(ctx_for("trader"), "role", ["telegram:444", "admin"])).ok
