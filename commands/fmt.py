"""Number, money and table formatting shared by commands and alerts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.storage.models import Proposal


def num(x: Any, places: int = 2) -> str:
    """A readable number: Decimal/float/str in, fixed decimals out; '?' when unknown."""
    if x is None or x == "":
        return "?"
    try:
        d = x if isinstance(x, Decimal) else Decimal(str(x))
    except (InvalidOperation, ValueError):
        return "?"
    if not d.is_finite():
        return "?"
    q = Decimal(1).scaleb(-places)
    return f"{d.quantize(q):,}"


def amount(x: Any) -> str:
    """Quantities keep up to 8 decimals without trailing zeros."""
    if x is None:
        return "?"
    try:
        d = x if isinstance(x, Decimal) else Decimal(str(x))
    except (InvalidOperation, ValueError):
        return "?"
    if not d.is_finite():
        return "?"
    s = f"{d.quantize(Decimal('0.00000001')):f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def signed(x: Any, places: int = 2) -> str:
    s = num(x, places)
    return s if s.startswith("-") or s == "?" else "+" + s


def pct(x: float | None) -> str:
    return "?" if x is None else f"{x * 100:+.2f}%"


def when(dt: datetime | None) -> str:
    return "-" if dt is None else f"{dt:%Y-%m-%d %H:%M} UTC"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain monospace table (shown in a code block by every transport)."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(x.rstrip() for x in out)


def proposal_text(p: Proposal) -> str:
    """A proposal as a short card (used by /pending, /approve and the proposal alert)."""
    lines = [
        f"Proposal #{p.id}: {p.side.upper()} {amount(p.amount)} {p.symbol} "
        f"@ ~{num(p.ref_price, 4)} ({p.intent})",
        f"notional {num(p.notional)}" + (f", stop {num(p.stop_price, 4)}" if p.stop_price else ""),
    ]
    legs = getattr(p, "legs", None)
    if legs:  # a rebalance: one proposal, every leg listed (placed sells first)
        lines[0] = f"Proposal #{p.id}: REBALANCE {len(legs)} legs ({p.intent})"
        ordered = sorted(legs, key=lambda leg: leg["side"] != "sell")
        lines += [f"  {i}. {str(leg['side']).upper()} {amount(leg['amount'])} {leg['symbol']} "
                  f"@ ~{num(leg['price'], 4)}" for i, leg in enumerate(ordered, 1)]
    if p.reasons:
        lines.append("why: " + "; ".join(str(r) for r in p.reasons[:5]))
    lines.append(f"state: {p.state}, expires {when(p.expires_at)}")
    if p.decided_by:
        lines.append(f"decided by {p.decided_by} at {when(p.decided_at)}")
    return "\n".join(lines)
