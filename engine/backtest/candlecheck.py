"""Candle files checked before a backtest uses them.

Why: `engine.data.candles.read_candles` sorts and merges duplicate stamps silently (what
Freqtrade does), and nothing stops a NaN, a negative or a -1e308 price from reaching the
simulator, where one such row makes a dozen trades. Here each file is read raw and the
first bad row is reported in one line naming the pair, the row and what is wrong. With
``--repair`` the bad rows are dropped instead, and unsorted or duplicated rows are sorted
and merged as Freqtrade does; the notes say what was changed.

Bad means: not finite, not positive, above `MAX_PRICE`, high/low inconsistent, or a lone
price `MAX_JUMP` times away from both neighbouring candles (a corrupt row: a real move
that size does not vanish at the next candle).

Gaps (missing candles) are filled as Freqtrade does (OHLC = previous close, volume 0)
and reported in a note. More than `MAX_MISSING` of the span missing is refused without
``--repair``: the backtest would trade on invented flat candles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.data.candles import (
    Candles,
    clean,
    filename_to_pair,
    fill_gaps,
    find_candle_file,
    list_pairs,
    read_raw,
    timeframe_ms,
)
from engine.errors import DataError

MAX_PRICE = 1e12  # above any quote of any pair on any exchange: a corrupt value
MAX_JUMP = 100.0  # a price this many times above or below both neighbours: corrupt
MAX_MISSING = 0.05  # share of the span's candles that may be missing without --repair
_HINT = ("fix the file, or pass --repair to drop bad rows and sort/merge duplicates "
         "as Freqtrade does")


def bad_rows(c: Candles) -> npt.NDArray[np.bool_]:
    """Rows whose values are unusable: non-finite, non-positive or absurd prices, high
    below or low above the candle's other prices, negative or NaN volume."""
    px = np.vstack((c.open, c.high, c.low, c.close))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(px).all(axis=0) | (px <= 0).any(axis=0) | (px > MAX_PRICE).any(axis=0)
        bad |= c.high < np.maximum(np.maximum(c.open, c.close), c.low)
        bad |= c.low > np.minimum(c.open, c.close)
        bad |= ~np.isfinite(c.volume) | (c.volume < 0)
        bad |= _lone_jumps(c)
    return np.asarray(bad, dtype=np.bool_)


def _lone_jumps(c: Candles) -> npt.NDArray[np.bool_]:
    """Rows with a price over `MAX_JUMP` times above (or below) both the previous
    close and the next open: one corrupt row, not a move (a move stays)."""
    n = len(c)
    if n < 2:
        return np.zeros(n, dtype=np.bool_)
    prev = np.concatenate(([np.nan], c.close[:-1]))
    nxt = np.concatenate((c.open[1:], [np.nan]))
    hi_ref = np.fmax(prev, nxt)  # fmax/fmin ignore the missing neighbour at the ends
    lo_ref = np.fmin(prev, nxt)
    hi = np.fmax(np.fmax(c.open, c.close), c.high)
    lo = np.fmin(np.fmin(c.open, c.close), c.low)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = (hi > hi_ref * MAX_JUMP) | (lo * MAX_JUMP < lo_ref)
    return np.asarray(out & np.isfinite(hi_ref) & np.isfinite(lo_ref) & (lo_ref > 0),
                      dtype=np.bool_)


def _iso(ms: int) -> str:
    return str(np.datetime64(int(ms), "ms").astype("datetime64[s]")) + "Z"


def _what(c: Candles, i: int) -> str:
    vals = {"open": c.open[i], "high": c.high[i], "low": c.low[i], "close": c.close[i]}
    for k, v in vals.items():
        if not np.isfinite(v):
            return f"{k} is {v}"
        if v <= 0:
            return f"{k} is {v:g} (prices must be positive)"
        if v > MAX_PRICE:
            return f"{k} is {v:g} (above {MAX_PRICE:g}: corrupt)"
    if not np.isfinite(c.volume[i]) or c.volume[i] < 0:
        return f"volume is {c.volume[i]:g}"
    if _lone_jumps(c)[i]:
        return (f"a price over {MAX_JUMP:g}x away from both neighbouring candles (open "
                "{open:g} high {high:g} low {low:g} close {close:g}): corrupt".format(**vals))
    return ("high/low inconsistent (open {open:g} high {high:g} low {low:g} close {close:g})"
            .format(**vals))


def first_problem(c: Candles) -> str | None:
    """One line naming the pair and its first bad row, or None when the file is sound."""
    step = timeframe_ms(c.timeframe)
    problems: list[tuple[int, str]] = []
    bad = np.flatnonzero(bad_rows(c))
    if bad.size:
        i = int(bad[0])
        problems.append((i, _what(c, i)))
    d = np.diff(c.open_time)
    back = np.flatnonzero(d <= 0)
    if back.size:
        i = int(back[0]) + 1
        kind = "duplicates" if d[i - 1] == 0 else "is earlier than"
        problems.append((i, f"its time {kind} row {i:,}'s (rows must be sorted and unique)"))
    off = np.flatnonzero(c.open_time % step)
    if off.size:
        problems.append((int(off[0]), f"its time is not on the {c.timeframe} grid"))
    if not problems:
        return None
    i, what = min(problems)
    return (f"{c.symbol}: candle row {i + 1:,} ({_iso(int(c.open_time[i]))}): {what}; "
            f"{_HINT}")


def repair(c: Candles) -> tuple[Candles, list[str]]:
    """Drop bad and off-grid rows, then sort and merge duplicates (Freqtrade's clean)."""
    notes: list[str] = []
    keep = ~bad_rows(c) & (c.open_time % timeframe_ms(c.timeframe) == 0)
    if not keep.all():
        notes.append(f"dropped {int((~keep).sum()):,} bad rows")
        c = Candles(c.symbol, c.timeframe, c.open_time[keep], c.open[keep], c.high[keep],
                    c.low[keep], c.close[keep], c.volume[keep])
    n = len(c)
    if n and np.any(np.diff(c.open_time) < 0):
        notes.append("sorted")
    c = clean(c)
    if len(c) < n:
        notes.append(f"merged {n - len(c):,} duplicate rows")
    if len(c) == 0:
        raise DataError(f"{c.symbol}: no usable candles left after --repair")
    return c, notes


def load_checked(data: Path, symbols: list[str] | None, timeframe: str, *,
                 repair_rows: bool = False) -> tuple[dict[str, Candles], list[str]]:
    """Load pairs like `engine.data.candles.load_candles`, checked (or repaired) first.
    Returns the gap-filled candles and one note per repaired pair."""
    timeframe_ms(timeframe)
    data = Path(data)
    if not data.exists():
        raise DataError(f"data path {data} not found")
    if data.is_file():
        parsed = filename_to_pair(data.name)
        sym = symbols[0] if symbols else (parsed[0] if parsed else data.name.split(".")[0])
        files = {sym: data}
    else:
        pairs = symbols or list_pairs(data, timeframe)
        if not pairs:
            raise DataError(f"no {timeframe} candle files in {data}")
        files = {s: find_candle_file(data, s, timeframe) for s in pairs}
    out: dict[str, Candles] = {}
    notes: list[str] = []
    for s, path in files.items():
        c = read_raw(path, s, timeframe)
        if repair_rows:
            c, changed = repair(c)
            if changed:
                notes.append(f"{s}: --repair {', '.join(changed)}")
        else:
            problem = first_problem(c)
            if problem is not None:
                raise DataError(problem)
        filled = fill_gaps(c)
        gap = gap_note(c, filled, repair_rows)
        if gap is not None:
            notes.append(gap)
        out[s] = filled
    return out, notes


def gap_note(c: Candles, filled: Candles, repair_rows: bool) -> str | None:
    """The note for the candles `fill_gaps` added (None: none); too many without
    --repair raise `DataError`."""
    missing = len(filled) - len(c)
    if missing <= 0:
        return None
    step = timeframe_ms(c.timeframe)
    d = np.diff(c.open_time) // step - 1
    i = int(np.argmax(d))
    share = missing / len(filled)
    where = (f"longest gap {int(d[i]):,} candles after {_iso(int(c.open_time[i]))}")
    if share > MAX_MISSING and not repair_rows:
        raise DataError(
            f"{c.symbol}: {missing:,} of {len(filled):,} {c.timeframe} candles missing "
            f"({share:.1%} > {MAX_MISSING:.0%}; {where}): the backtest would trade on "
            "invented flat candles; download the missing data, or pass --repair to fill "
            "them as Freqtrade does")
    return (f"{c.symbol}: filled {missing:,} missing candles ({share:.2%}; {where}) as "
            "Freqtrade does (OHLC = previous close, volume 0)")
