"""Execution algorithms: TWAP and VWAP schedules, and the events they report.

A parent order of `amount` is cut into `slices` child orders sent over `duration`:
TWAP in equal parts at equal intervals, VWAP in parts weighted by the volume the
market usually trades at that time of day (`volume_profile`, from the recent candles),
or by weights the caller gives. This module holds no state (no broker, no clock; only
`position_for` reads the caller's session): it says WHEN slice k is due and HOW MUCH
should have been sent by then; the engine's
`engine.service.algodesk` persists the parent (`AlgoOrder`), sends each slice as an
ordinary order through the proposal -> order path and books the report.

Why cumulative targets: a slice that could not go (the price was beyond the limit,
or it was below the exchange minimum) is not lost; the next slice sends what the
schedule says should have been done by then. A restart that missed slices catches up
the same way, in one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import numpy as np
from sqlmodel import Session, col, select

from engine.errors import SentitradeError
from engine.events import DomainEvent
from engine.storage.models import Trade

DAY_MS = 86_400_000
KINDS = ("twap", "vwap")
MAX_SLICES = 500
MIN_DURATION_S = 10
MAX_DURATION_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class AlgoSpec:
    """What a strategy or a chat user asks for. `weights` (VWAP only) overrides the
    volume profile; `limit` is the worst price a slice may be sent at."""

    kind: str  # twap | vwap
    symbol: str
    side: str  # buy | sell
    amount: Decimal
    duration: timedelta
    slices: int
    limit: Decimal | None = None
    weights: tuple[float, ...] | None = None

    def validate(self) -> None:
        """Raise ValueError with a sentence a trader understands."""
        if self.kind not in KINDS:
            raise ValueError(f"algo kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.side not in ("buy", "sell"):
            raise ValueError("side is buy or sell")
        if self.amount <= 0:
            raise ValueError("the amount must be positive")
        secs = self.duration.total_seconds()
        if not MIN_DURATION_S <= secs <= MAX_DURATION_S:
            raise ValueError(f"duration from {MIN_DURATION_S} s to {MAX_DURATION_S // 86_400} days")
        if not 1 <= self.slices <= MAX_SLICES:
            raise ValueError(f"slices from 1 to {MAX_SLICES}")
        if self.limit is not None and self.limit <= 0:
            raise ValueError("the limit price must be positive")
        if self.weights is not None:
            if len(self.weights) != self.slices:
                raise ValueError(f"{len(self.weights)} weights for {self.slices} slices")
            if any(not np.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights are non-negative numbers, not all zero")


# ---------------------------------------------------------------- schedule
def slice_times(start: datetime, duration: timedelta, n: int) -> list[datetime]:
    """When each slice is due: the first at the start, then every duration/n."""
    return [start + duration * k / n for k in range(n)]


def due_count(start: datetime, duration: timedelta, n: int, now: datetime) -> int:
    """How many schedule points have come by `now` (0..n)."""
    return sum(1 for t in slice_times(start, duration, n) if t <= now)


def normalize(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    if total <= 0 or not np.isfinite(total):
        return [1.0 / len(weights)] * len(weights)
    return [float(w) / total for w in weights]


def twap_weights(n: int) -> list[float]:
    return [1.0 / n] * n


def volume_profile(start: datetime, duration: timedelta, n: int, close_ms: Sequence[float],
                   volume: Sequence[float], timeframe_ms: int) -> list[float] | None:
    """VWAP weights: for each slice's time-of-day window, the mean volume of the past
    candles overlapping that window (any day), normalized. None when no candle helps
    (no history, or every window empty): the caller falls back to TWAP.

    Candles are right-aligned: the candle stamped `c` covers (c - tf, c]. A window longer
    than a day would see every candle, so the profile is flat then."""
    c = np.asarray(close_ms, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    ok = np.isfinite(c) & np.isfinite(v) & (v >= 0)
    c, v = c[ok], v[ok]
    if c.size == 0 or timeframe_ms <= 0:
        return None
    open_tod = np.mod(c - timeframe_ms, DAY_MS)
    width = duration.total_seconds() * 1000 / n
    if width >= DAY_MS:
        return None
    start_ms = start.timestamp() * 1000
    out: list[float] = []
    for k in range(n):
        a = (start_ms + k * width) % DAY_MS
        # candle (o, o + tf] meets [a, a + width) on the day's circle
        hit = (np.mod(open_tod - a, DAY_MS) < width) | (np.mod(a - open_tod, DAY_MS) < timeframe_ms)
        out.append(float(v[hit].mean()) if hit.any() else float("nan"))
    arr = np.asarray(out)
    if not np.isfinite(arr).any() or np.nansum(arr) <= 0:
        return None
    arr = np.where(np.isfinite(arr), arr, np.nanmean(arr))  # an empty window: the average
    return normalize(arr.tolist())


def cumulative_target(total: Decimal, weights: Sequence[float], k: int) -> Decimal:
    """What should have been sent once `k` schedule points passed (all of it at k = n)."""
    if k >= len(weights):
        return total
    share = sum(weights[:k])
    return (total * Decimal(repr(round(share, 12)))).quantize(Decimal("0.00000001"))


def blocked_by_limit(side: str, price: Decimal, limit: Decimal | None) -> bool:
    """A buy is not sent above its limit, a sell not below."""
    if limit is None:
        return False
    return price > limit if side == "buy" else price < limit


def slippage_bps(side: str, average: Decimal | None, arrival: Decimal) -> float | None:
    """Cost against the arrival price in basis points: positive = paid more on a buy
    (or got less on a sell) than the price when the algo started."""
    if average is None or arrival <= 0:
        return None
    raw = float(average / arrival - 1) * 10_000
    return raw if side == "buy" else -raw


# ---------------------------------------------------------------- events
@dataclass(frozen=True, kw_only=True)
class AlgoStarted(DomainEvent):
    kind: ClassVar[str] = "algo"
    algo_id: int
    algo: str
    symbol: str
    side: str
    amount: Decimal
    slices: int
    ends_at: datetime
    arrival_price: Decimal
    limit: Decimal | None = None
    by: str = ""

    def dedup_key(self) -> str:
        return f"algo:{self.algo_id}:start"

    def text(self) -> str:
        lim = f", limit {self.limit}" if self.limit is not None else ""
        return (f"{self.algo.upper()} a{self.algo_id} started by {self.by}: {self.side} "
                f"{_short(self.amount)} {self.symbol} in {self.slices} slices until "
                f"{self.ends_at:%H:%M} UTC (arrival {_short(self.arrival_price)}{lim})")


@dataclass(frozen=True, kw_only=True)
class AlgoProgress(DomainEvent):
    kind: ClassVar[str] = "algo"
    algo_id: int
    algo: str
    symbol: str
    side: str
    step: int  # the schedule point this report is about (1-based)
    slices: int
    filled: Decimal
    amount: Decimal
    average_price: Decimal | None
    note: str = ""

    def dedup_key(self) -> str:
        return f"algo:{self.algo_id}:step:{self.step}:{self.note[:40]}"

    def text(self) -> str:
        avg = f" avg {_short(self.average_price)}" if self.average_price is not None else ""
        note = f" - {self.note}" if self.note else ""
        return (f"{self.algo.upper()} a{self.algo_id} {self.symbol} slice {self.step}/"
                f"{self.slices}: {_short(self.filled)}/{_short(self.amount)} filled{avg}{note}")


@dataclass(frozen=True, kw_only=True)
class AlgoFinished(DomainEvent):
    """The final fill report: what was done, at what price, against the arrival price."""

    kind: ClassVar[str] = "algo"
    algo_id: int
    algo: str
    symbol: str
    side: str
    state: str  # done | canceled | stopped | expired
    filled: Decimal
    amount: Decimal
    average_price: Decimal | None
    arrival_price: Decimal
    slippage_bps: float | None
    slices_sent: int
    slices: int
    reason: str = ""

    def dedup_key(self) -> str:
        return f"algo:{self.algo_id}:end"

    def text(self) -> str:
        avg = (f"avg {_short(self.average_price)} vs arrival {_short(self.arrival_price)}, "
               f"slippage {self.slippage_bps:+.1f} bps" if self.average_price is not None
               and self.slippage_bps is not None else "nothing filled")
        why = f" ({self.reason})" if self.reason else ""
        return (f"{self.algo.upper()} a{self.algo_id} {self.state}{why}: {self.side} "
                f"{_short(self.filled)}/{_short(self.amount)} {self.symbol} in "
                f"{self.slices_sent} of {self.slices} slices, {avg}")


def _short(x: Decimal | None) -> str:
    return "?" if x is None else f"{float(x):.10g}"


# ---------------------------------------------------------------- the position
def position_for(s: Session, spec: AlgoSpec, bot_id: int | None,
                 trade_id: int | None) -> Trade | None:
    """The trade an algo works on: `trade_id`, or for a sell the open long on the
    symbol (the bot's own first, else the trader's); None for a buy that opens one.
    Raises SentitradeError with the reason when there is none, several, or too little."""
    if trade_id is not None:
        t = s.get(Trade, trade_id)
        if t is None or not t.is_open or t.symbol != spec.symbol:
            raise SentitradeError(f"no open {spec.symbol} trade #{trade_id}")
    elif spec.side == "sell":
        rows = list(s.exec(select(Trade).where(col(Trade.is_open).is_(True),
                                               Trade.symbol == spec.symbol,
                                               Trade.side == "long")).all())
        rows = [t for t in rows if t.bot_id == bot_id] or rows
        if len(rows) != 1:
            raise SentitradeError(
                f"no open {spec.symbol} position to sell (spot sells close a position; "
                "shorts need a futures market)" if not rows else
                f"{len(rows)} open {spec.symbol} trades: name one (trade id)")
        t = rows[0]
    else:
        return None
    if spec.side == "sell" and spec.amount > t.amount:
        raise SentitradeError(f"trade #{t.id} holds {t.amount} {spec.symbol.split('/')[0]}: "
                              f"cannot sell {spec.amount}")
    if spec.side == "buy" and t.side != "long":
        raise SentitradeError(f"trade #{t.id} is a {t.side}: a buy algo grows longs only")
    return t
