"""The daily PnL chart sent with the daily summary: one picture a trader reads at a
glance on the phone (bars of realised PnL per day, the running total as a line).

It is drawn for the summary's own day (the engine's clock wrote it: in a replay that
is the replay's day, not today's) over the `DAYS` days up to it, from the closed trades
in the database, so every chat and a resend show the same picture. Rendering happens
once per summary and is kept (`_CACHE`): a Telegram chat, the Discord channel and the
console get the same bytes.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from commands.queries import closed_trades
from engine.storage.db import SessionFactory

log = logging.getLogger("sentitrade.commands")
DAYS = 30
_CACHE: OrderedDict[tuple[int, str], bytes | None] = OrderedDict()
_LOCK = threading.Lock()  # pyplot is not thread-safe; the notifier renders in threads


def daily_pnl(sessions: SessionFactory, day: str, days: int = DAYS
              ) -> list[tuple[datetime, Decimal, int]]:
    """(day start, realised PnL, trades closed) for the `days` days ending with `day`
    ("YYYY-MM-DD", UTC), oldest first."""
    end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    start = end - timedelta(days=days)
    keys = [start + timedelta(days=i) for i in range(days)]
    pnl = dict.fromkeys(keys, Decimal(0))
    count = dict.fromkeys(keys, 0)
    for t in closed_trades(sessions, since=start):
        if t.close_at is None or t.close_at >= end:
            continue
        key = t.close_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if key in pnl:
            pnl[key] += t.realized_pnl or Decimal(0)
            count[key] += 1
    return [(k, pnl[k], count[k]) for k in keys]


def render(rows: list[tuple[datetime, Decimal, int]], title: str) -> bytes:
    """A PNG of the rows: green/red bars per day, cumulative PnL line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    days = mdates.date2num([d for d, _, _ in rows])
    pnl = [float(p) for _, p, _ in rows]
    cum, total = [], 0.0
    for p in pnl:
        total += p
        cum.append(total)
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=100)
    try:
        ax.bar(days, pnl, width=0.8, color=["#2a9d4b" if p >= 0 else "#d1495b" for p in pnl])
        ax.axhline(0, color="#888", linewidth=0.8)
        ax2 = ax.twinx()
        ax2.plot(days, cum, color="#1f5fa8", linewidth=1.6)
        ax.set_ylabel("PnL per day")
        ax2.set_ylabel("cumulative")
        ax.set_title(title, fontsize=11, loc="left")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def daily_chart(sessions: SessionFactory, day: str, outbox_id: int = 0) -> bytes | None:
    """The chart for the summary of `day`, rendered once per summary; None when it
    cannot be drawn (the summary's text still goes out: a chart is never the reason an
    alert is lost)."""
    with _LOCK:
        return _chart(sessions, day, (outbox_id, day))


def _chart(sessions: SessionFactory, day: str, key: tuple[int, str]) -> bytes | None:
    if key in _CACHE:
        return _CACHE[key]
    png: bytes | None
    try:
        rows = daily_pnl(sessions, day)
        total = sum((p for _, p, _ in rows), Decimal(0))
        png = render(rows, f"realised PnL, {DAYS} days to {day}: {total:+.2f}")
    except Exception:
        log.exception("daily PnL chart for %s failed", day)
        png = None
    _CACHE[key] = png
    while len(_CACHE) > 8:
        _CACHE.popitem(last=False)
    return png
