"""Higher-timeframe candles inside a base-timeframe frame, without look-ahead, and
time-weighted confirmation across timeframes.

Freqtrade's ``merge_informative_pair`` rule: a 1h candle counts on the 5m frame only
from the 5m candle that closes when it closes (the 1h candle of 09:00-10:00 is first
seen on the 5m candle of 09:55, whose close is 10:00). Building the higher candles from
the base candles inside ``populate_indicators`` keeps the rule identical in a backtest,
a replay and live, where the runtime hands the strategy only its trailing window: a
bucket with a missing base candle (the window's first, partial hour; a gap) is not a
candle at all, so a window never sees a half-built hour.

Confirmations weight each timeframe's vote by how fresh its last closed candle is:
``exp(-ln 2 * age / half_life)`` with the age in base candles and the half-life one
higher candle by default, so a 4h trend that closed 3h55m ago counts for less than one
that closed five minutes ago.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.data.candles import timeframe_ms
from engine.signals.windows import window_mean

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Informative:
    """One higher timeframe: its complete candles and how they map onto base rows."""

    timeframe: str
    open_time: npt.NDArray[np.int64]
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    row: npt.NDArray[np.int64]   # per base row: index of the last closed candle, -1 none
    age: F64                     # per base row: base candles since that candle closed

    def at_base(self, values: F64) -> F64:
        """A per-higher-candle array spread onto the base rows (NaN before the first)."""
        v = np.asarray(values, dtype=np.float64)
        out = np.full(self.row.shape[0], np.nan)
        ok = self.row >= 0
        out[ok] = v[self.row[ok]]
        return out


def informative(frame: Any, base_timeframe: str, timeframe: str) -> Informative:
    """The `timeframe` candles built from the frame's complete buckets, mapped onto
    every base row by the close-time rule above."""
    base, step = timeframe_ms(base_timeframe), timeframe_ms(timeframe)
    if step % base or step <= base:
        raise ValueError(f"{timeframe} is not a multiple of {base_timeframe}")
    per = step // base
    date = np.asarray(frame["date"], dtype=np.int64)
    o, h, lo, c, v = (np.asarray(frame[k], dtype=np.float64)
                      for k in ("open", "high", "low", "close", "volume"))
    n = date.shape[0]
    empty_i = np.zeros(0, dtype=np.int64)
    if n == 0:
        e = np.zeros(0)
        return Informative(timeframe, empty_i, e, e, e, e, e, empty_i, e)
    bucket = date - date % step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, n])
    # complete = every base candle of the bucket present (counts can only be == per
    # with consecutive stamps when the frame has no duplicates, which the loaders ensure)
    full = counts == per
    s = starts[full]
    e_ = s + per - 1
    hi = np.maximum.reduceat(h, starts)[full]
    lw = np.minimum.reduceat(lo, starts)[full]
    vol = np.add.reduceat(v, starts)[full]
    closes_at = bucket[s] + step                     # when each higher candle closes
    base_close = date + base                         # when each base row closes
    row = np.searchsorted(closes_at, base_close, side="right") - 1
    if closes_at.size:
        age = np.where(row >= 0, (base_close - closes_at[np.maximum(row, 0)]) / base, np.nan)
    else:  # not one complete higher candle yet
        age = np.full(n, np.nan)
    return Informative(timeframe, bucket[s].astype(np.int64), o[s].copy(), hi, lw,
                       c[e_].copy(), vol, row.astype(np.int64), age.astype(np.float64))


def trend_vote(inf: Informative, period: int) -> F64:
    """+1 when the higher close is above its rising `period` mean, -1 below a falling
    one, 0 otherwise; per base row (NaN before enough higher candles)."""
    m = window_mean(inf.close, period)
    prev = np.r_[np.nan, m[:-1]]
    with np.errstate(invalid="ignore"):
        vote = np.where((inf.close > m) & (m > prev), 1.0,
                        np.where((inf.close < m) & (m < prev), -1.0, 0.0))
    vote[np.isnan(m) | np.isnan(prev)] = np.nan
    return inf.at_base(vote)


def confirmations(votes: list[F64], ages: list[F64], half_lives: list[float],
                  direction: int = 1) -> tuple[F64, F64]:
    """(count of timeframes voting `direction`, decayed score in [-1, 1]) per base row.

    The score is the freshness-weighted mean vote; a timeframe with no vote yet (NaN)
    counts as 0 and still weighs in the mean, so missing history never inflates it."""
    if not votes:
        raise ValueError("confirmations need at least one timeframe")
    n = votes[0].shape[0]
    count = np.zeros(n)
    num = np.zeros(n)
    den = np.zeros(n)
    for vote, age, hl in zip(votes, ages, half_lives, strict=True):
        w = np.exp(-math.log(2.0) * np.where(np.isnan(age), 0.0, age) / hl)
        v = np.where(np.isnan(vote), 0.0, vote)
        count += (v == direction)
        num += w * v
        den += w
    return count, np.where(den > 0, num / den, 0.0)
