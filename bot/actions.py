"""Button presses, shared by every transport: verify, authorise, decide, describe.

A press carries a signed payload (commands.callbacks). Forged or stale payloads are
refused with a neutral toast and a logged warning; a double tap is harmless because
the engine's approve/reject are idempotent (the second press reports who decided).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from commands.alerts import decided_text, proposal_reply
from commands.auditlog import record
from commands.auth import decide_access
from commands.base import Identity, has_role
from commands.callbacks import CallbackError, CallbackSigner
from commands.catalog import fill_line
from commands.fmt import proposal_text
from commands.reply import Reply
from engine.errors import SentitradeError
from engine.service.api import TradingAPI

log = logging.getLogger("sentitrade.bot")


@dataclass(frozen=True, slots=True)
class PressResult:
    """`toast`: short answer to the press; `message`: new content of the proposal
    message (None = leave it); `decided_pid`: set when a decision changed state."""

    toast: str
    message: Reply | None = None
    decided_pid: int | None = None
    detail: Reply | None = None


async def press(api: TradingAPI, signer: CallbackSigner, user: Identity,
                data: str) -> PressResult:
    """Handle one button press by `user` with payload `data`; every press is audited."""
    res = await _press(api, signer, user, data)
    try:
        bp = signer.verify(data)
        action, args = f"button:{bp.action}", [str(bp.target_id)]
    except CallbackError:
        action, args = "button:invalid", []
    ok = res.decided_pid is not None or res.detail is not None
    record(api.sessions, user, action, args, "ok" if ok else "refused",
           "" if ok else res.toast)
    return res


async def _press(api: TradingAPI, signer: CallbackSigner, user: Identity,
                 data: str) -> PressResult:
    try:
        bp = signer.verify(data)
    except CallbackError as e:
        log.warning("refused button from %s: %s", user.by, e.reason)
        return PressResult("This button is no longer valid.")
    pid = bp.target_id
    if bp.action in ("admit", "block"):
        if not has_role(user.role, "admin"):
            return PressResult("Only an admin decides access.")
        changed, text = decide_access(api.sessions, pid, bp.action == "admit", user.name or user.by)
        return PressResult(text[:190], detail=Reply(text), decided_pid=pid if changed else None)
    if bp.action == "details":
        p = api.get_proposal(pid)
        if p is None:
            return PressResult("Unknown proposal.")
        return PressResult("Details below.", detail=Reply(proposal_text(p)))
    if not has_role(user.role, "trader"):
        return PressResult("Deciding needs the trader role.")
    who = user.name or user.by
    try:
        if bp.action == "approve":
            d = await api.approve(pid, user.by)
        else:
            d = await api.reject(pid, user.by)
    except SentitradeError as e:
        p = api.get_proposal(pid)
        msg = str(e).splitlines()[0] if str(e) else "refused"
        new = Reply(proposal_text(p) + f"\n\nNot executed: {msg}") if p is not None else None
        return PressResult(msg[:190], new)
    except Exception:
        log.exception("button %s on proposal #%s failed", bp.action, pid)
        return PressResult("Failed on our side; see the log.")
    p = d.proposal
    if not d.changed:
        if p.decided_by:
            # Someone's tap decided it: that tap's edit (and the notifier's edits of the
            # copies in other chats) shows the outcome and the fill. Editing here too
            # could land after it and overwrite it with the plain card: answer only.
            return PressResult(f"Already {p.state} by {p.decided_by}.")
        return PressResult(f"Already {p.state}.", proposal_reply(p))
    if bp.action == "approve":
        fill = fill_line(d.order) if d.order is not None else d.message
        return PressResult("Approved.", Reply(decided_text(p, "Approved", who, fill)), pid)
    return PressResult("Rejected.", Reply(decided_text(p, "Rejected", who)), pid)
