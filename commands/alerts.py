"""Outbox alerts as Replies: fill, order canceled/failed, breaker trip/clear, proposal,
daily summary, error. Transport-agnostic so every chat shows the same words.

Payloads come from the engine's outbox rows; a missing key shows as '?' rather than
failing, because an alert that cannot be formatted must still be delivered.
"""

from __future__ import annotations

import contextlib
from typing import Any

from commands.fmt import amount, num, proposal_text, signed
from commands.reply import Button, Reply
from engine.storage.models import Proposal, ProposalState

ALERT_TYPES = ("proposal", "fill", "order_canceled", "order_failed", "breaker_tripped",
               "breaker_cleared", "pair_locked", "daily_summary", "error", "algo")


def proposal_buttons(pid: int) -> tuple[Button, ...]:
    return (Button(str(pid), "Approve", "approve"), Button(str(pid), "Reject", "reject"),
            Button(str(pid), "Details", "details"))


def access_buttons(user_row: int) -> tuple[Button, ...]:
    return (Button(str(user_row), "Admit", "admit"), Button(str(user_row), "Block", "block"))


def proposal_reply(p: Proposal) -> Reply:
    """A proposal card; buttons only while it can still be decided."""
    buttons = proposal_buttons(p.id or 0) if p.state == ProposalState.PENDING else ()
    return Reply(proposal_text(p), buttons=buttons)


def decided_text(p: Proposal, outcome: str, by: str, fill: str = "") -> str:
    """The edited proposal message after a decision: outcome, who, and the fill."""
    text = proposal_text(p) + f"\n\n{outcome} by {by}"
    return text + (f"\n{fill}" if fill else "")


def format_alert(kind: str, payload: dict[str, Any],
                 proposal: Proposal | None = None) -> Reply:
    """The Reply for one outbox row of `kind`."""
    g = payload.get
    if kind == "proposal":
        if proposal is not None:
            return proposal_reply(proposal)
        pid = int(g("proposal_id", 0) or 0)
        return Reply(f"Proposal #{pid}: {str(g('side', '?')).upper()} {amount(g('amount'))} "
                     f"{g('symbol', '?')} @ ~{num(g('ref_price'), 4)}",
                     buttons=proposal_buttons(pid) if pid else ())
    if kind == "fill":
        text = (f"Filled: {str(g('side', '?')).upper()} {amount(g('amount'))} {g('symbol', '?')} "
                f"@ {num(g('price'), 4)}, fee {amount(g('fee'))}"
                + (f" {g('fee_currency')}" if g("fee_currency") else ""))
        if g("pnl") is not None or g("realized_pnl") is not None:
            pnl = g("pnl") if g("pnl") is not None else g("realized_pnl")
            text += f"\nclosed trade PnL {signed(pnl)}"
            if g("pnl_ratio") is not None:
                with contextlib.suppress(TypeError, ValueError):
                    text += f" ({float(str(g('pnl_ratio'))) * 100:+.2f}%)"
        if g("proposal_id"):
            text += f"\n(proposal #{g('proposal_id')})"
        return Reply(text)
    if kind == "order_canceled":
        return Reply(f"Order canceled: {g('symbol', '?')} {g('side', '')} "
                     f"{amount(g('amount'))} {g('reason', '')}".rstrip())
    if kind == "order_failed":
        return Reply(f"Order failed: {g('symbol', '?')} {g('side', '')} {amount(g('amount'))}: "
                     f"{g('error', g('reason', 'unknown error'))}")
    if kind == "breaker_tripped":
        until = g("until") or "manual /resume"
        return Reply(f"Circuit breaker tripped: {g('rule', '?')}"
                     + (f" ({g('scope')})" if g("scope") else "") + "\n"
                     f"measured {g('measured', '?')} vs threshold {g('threshold', '?')}\n"
                     f"action: {g('action', '?')}, until {until}")
    if kind == "breaker_cleared":
        by = g("by") or g("cleared_by")
        return Reply(f"Circuit breaker cleared: {g('rule', '?')}" + (f" by {by}" if by else ""))
    if kind == "daily_summary":
        trades = g("trades_closed", g("trades", 0))
        return Reply(f"Daily summary {g('day', g('date', ''))}\n"
                     f"realised PnL {signed(g('realized_pnl', g('pnl')))} over {trades} trades\n"
                     f"equity {num(g('equity'))}, open positions "
                     f"{g('open_trades', g('open_positions', '?'))}")
    if kind == "error":
        return Reply("Error: " + str(g("text") or g("error") or g("detail") or "?"), ok=False)
    if kind == "access_request":
        return Reply(f"Access request: {g('name', '?')} ({g('transport', '?')}:"
                     f"{g('user_id', '?')}) sent /start. Admit as viewer, or block?",
                     buttons=access_buttons(int(g("user_row", 0))))
    if g("text"):
        return Reply(str(g("text")))
    return Reply(f"{kind}: " + ", ".join(f"{k}={v}" for k, v in list(payload.items())[:8]))


# ---------------------------------------------------------------- digests
DigestItem = tuple[int, str, dict[str, Any], Proposal | None]  # (outbox id, kind, payload, p)


def _digest_line(kind: str, payload: dict[str, Any], proposal: Proposal | None) -> str:
    """One alert as one line (a proposal shows its current state)."""
    first = format_alert(kind, payload, proposal).text.split("\n", 1)[0]
    if proposal is not None and proposal.state != ProposalState.PENDING:
        first += f" [{proposal.state}" + (f" by {proposal.decided_by}]"
                                          if proposal.decided_by else "]")
    return first


_NOUNS = {"proposal": ("proposal", "proposals"), "fill": ("fill", "fills"),
          "proposal_decided": ("decision", "decisions"),
          "order_canceled": ("canceled order", "canceled orders"),
          "order_failed": ("failed order", "failed orders"),
          "breaker_tripped": ("breaker trip", "breaker trips"),
          "breaker_cleared": ("breaker cleared", "breakers cleared"),
          "pair_locked": ("pair lock", "pair locks"),
          "access_request": ("access request", "access requests"),
          "daily_summary": ("daily summary", "daily summaries"), "error": ("error", "errors"),
          "algo": ("algo update", "algo updates")}


def _plural(n: int, kind: str) -> str:
    one, many = _NOUNS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
    return f"{n} {one if n == 1 else many}"


def format_digest(items: list[DigestItem], max_rows: int, max_chars: int) -> Reply:
    """Several alerts as one message, in their order: a header with the outbox id range
    and the count per kind, one line per alert while the text fits `max_chars`, and one
    button row per still-pending proposal up to `max_rows` (the rest: a "/pending"
    line). Why: a burst of proposals or fills must not turn a phone into noise, yet
    every alert stays accounted for (the id range) and every proposal stays decidable."""
    counts: dict[str, int] = {}
    for _, kind, _, _ in items:
        counts[kind] = counts.get(kind, 0) + 1
    ids = [i for i, _, _, _ in items]
    header = (f"{len(items)} alerts #{ids[0]}–#{ids[-1]}: "
              + ", ".join(_plural(n, k) for k, n in counts.items()))
    buttons: list[Button] = []
    pending = [p for _, _, _, p in items if p is not None and p.state == ProposalState.PENDING]
    for pp in pending[:max_rows]:
        buttons.extend(Button(b.id, f"{b.label} #{b.id}", b.action)
                       for b in proposal_buttons(pp.id or 0))
    for _, kind, payload, _ in items:  # access requests keep their Admit / Block row
        if kind == "access_request" and len(buttons) < 3 * max_rows:
            buttons.extend(access_buttons(int(payload.get("user_row", 0))))
    footer = (f"\n{len(pending) - max_rows} more pending: /pending"
              if len(pending) > max_rows else "")
    lines, used = [header], len(header) + len(footer) + 40
    shown = 0
    for _, kind, payload, prop in items:
        line = "• " + _digest_line(kind, payload, prop)[:200]
        if used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
        shown += 1
    if shown < len(items):
        lines.append(f"…and {len(items) - shown} more (/trades, /pending, /risk)")
    return Reply("\n".join(lines) + footer, buttons=tuple(buttons))
