"""Chart patterns with a confidence and the candle at which each became knowable.

A pattern is only a pattern once price confirms it (a double bottom is two lows until
the close breaks the neckline), and its swing points are only swing points once ``k``
candles to their right exist. So detection runs forward through time:

1. a swing high (low) at ``p`` is *known* at ``p + k``: the highest high (lowest low)
   of ``p - k .. p + k``. Swings alternate; a newer swing of the same side that is more
   extreme replaces the older one (from the moment it is known).
2. each newly known swing may complete a *formation*: double top/bottom, head and
   shoulders (and inverse), ascending / descending / symmetric triangle, bull / bear
   flag, support / resistance made of two or more touching swings. A formation has a
   trigger line and an invalidation level.
3. a detection is emitted at the first close beyond the trigger, never earlier:
   `Detection.knowable_at` is that candle, and every input it used is at or before it.

Sizes are measured in ATR (a windowed mean of true range, so the value at a row never
depends on where history starts), which makes one set of thresholds fit any price.

Confidence in [0, 1] is the mean of four plain components: symmetry of the formation
(equal tops, equal shoulders, flat side of a triangle), its size against ATR, how
decisively the close broke the trigger, and the breakout candle's volume against the
last 20. Each is capped at 1, so one component never buys confidence alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.signals.windows import true_range_mean, window_mean

F64 = npt.NDArray[np.float64]

KINDS = ("double_top", "double_bottom", "head_shoulders", "inverse_head_shoulders",
         "ascending_triangle", "descending_triangle", "symmetric_triangle",
         "bull_flag", "bear_flag", "resistance_break", "support_break")
KIND_CODE = {k: i + 1 for i, k in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class PatternParams:
    swing: int = 5            # k: candles each side of a swing point
    atr_period: int = 14
    tolerance_atr: float = 1.0   # equal tops / shoulders / touches: within this many ATR
    min_height_atr: float = 2.0  # formation height at least this many ATR
    max_wait: int = 60        # candles a formation waits for its break
    flag_retrace: float = 0.5  # a flag's pullback retraces at most this share of its pole
    pole_atr: float = 4.0     # a flag's pole spans at least this many ATR


@dataclass(frozen=True, slots=True)
class Swing:
    index: int
    price: float
    side: int       # +1 high, -1 low
    known_at: int


@dataclass(frozen=True, slots=True)
class Detection:
    kind: str
    direction: int                       # +1 bullish, -1 bearish
    knowable_at: int                     # the candle whose close confirmed it
    key_points: tuple[tuple[int, float], ...]
    level: float                         # the trigger price at knowable_at
    height: float                        # formation height (price units)
    confidence: float
    strength: float                      # height in ATR at the confirming candle
    components: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Formation:
    kind: str
    direction: int
    points: tuple[tuple[int, float], ...]
    # trigger line: level(i) = a + b * i; break when direction * (close - level) > 0
    a: float
    b: float
    invalid: float        # a close beyond this (against the direction) cancels it
    height: float
    symmetry: float
    born: int


def swings(high: F64, low: F64, k: int) -> list[Swing]:
    """Every swing point with the candle at which it became known (unfiltered)."""
    n = high.shape[0]
    out: list[Swing] = []
    if n < 2 * k + 1:
        return out
    wh = np.lib.stride_tricks.sliding_window_view(high, 2 * k + 1)
    wl = np.lib.stride_tricks.sliding_window_view(low, 2 * k + 1)
    centre_h, centre_l = high[k:n - k], low[k:n - k]
    # strict on the left, non-strict on the right: a flat top counts once, at its start
    left_h = wh[:, :k].max(axis=1) if k else np.full(len(centre_h), -np.inf)
    left_l = wl[:, :k].min(axis=1) if k else np.full(len(centre_l), np.inf)
    is_h = (centre_h > left_h) & (centre_h >= wh[:, k:].max(axis=1))
    is_l = (centre_l < left_l) & (centre_l <= wl[:, k:].min(axis=1))
    for j in np.flatnonzero(is_h | is_l):
        p = int(j) + k
        if is_h[j]:
            out.append(Swing(p, float(high[p]), 1, p + k))
        if is_l[j]:
            out.append(Swing(p, float(low[p]), -1, p + k))
    out.sort(key=lambda s: (s.known_at, s.index, s.side))
    return out


def _line(p1: tuple[int, float], p2: tuple[int, float]) -> tuple[float, float]:
    (i1, y1), (i2, y2) = p1, p2
    b = (y2 - y1) / (i2 - i1) if i2 != i1 else 0.0
    return y1 - b * i1, b


def _closeness(d: float, tol: float) -> float:
    return max(0.0, 1.0 - d / tol) if tol > 0 else 0.0


def _formations(chain: list[Swing], atr: float, p: PatternParams, now: int) -> list[_Formation]:
    """Formations that the newest swing of `chain` (alternating sides) completes."""
    out: list[_Formation] = []
    if atr != atr or atr <= 0 or len(chain) < 3:
        return out
    tol, min_h = p.tolerance_atr * atr, p.min_height_atr * atr
    s = chain[-1]
    a1, mid, a2 = chain[-3], chain[-2], chain[-1]
    pts3 = tuple((x.index, x.price) for x in (a1, mid, a2))
    # double top (two highs around a low) / double bottom
    if abs(a1.price - a2.price) <= tol:
        h = abs(min(a1.price, a2.price) - mid.price) if s.side > 0 else abs(
            max(a1.price, a2.price) - mid.price)
        if h >= min_h:
            kind = "double_top" if s.side > 0 else "double_bottom"
            extreme = max(a1.price, a2.price) if s.side > 0 else min(a1.price, a2.price)
            out.append(_Formation(kind, -s.side, pts3, mid.price, 0.0, extreme, h,
                                  _closeness(abs(a1.price - a2.price), tol), now))
    if len(chain) >= 5:
        s1, n1, hd, n2, s2 = chain[-5:]
        pts5 = tuple((x.index, x.price) for x in chain[-5:])
        sign = s.side  # +1: shoulders and head are highs
        head_out = sign * (hd.price - max(s1.price, s2.price) if sign > 0
                           else hd.price - min(s1.price, s2.price))
        if abs(s1.price - s2.price) <= tol and head_out >= 0.5 * min_h:
            a, b = _line((n1.index, n1.price), (n2.index, n2.price))
            neck_at_head = a + b * hd.index
            h = abs(hd.price - neck_at_head)
            if h >= min_h:
                kind = "head_shoulders" if sign > 0 else "inverse_head_shoulders"
                out.append(_Formation(kind, -sign, pts5, a, b, hd.price, h,
                                      _closeness(abs(s1.price - s2.price), tol), now))
    if len(chain) >= 4:
        last4 = chain[-4:]
        highs = [x for x in last4 if x.side > 0]
        lows = [x for x in last4 if x.side < 0]
        if len(highs) == 2 and len(lows) == 2:
            ah, bh = _line((highs[0].index, highs[0].price), (highs[1].index, highs[1].price))
            al, bl = _line((lows[0].index, lows[0].price), (lows[1].index, lows[1].price))
            span = last4[-1].index - last4[0].index
            dh, dl = bh * span, bl * span   # each side's rise over the formation
            flat_h, flat_l = abs(dh) <= 0.5 * tol, abs(dl) <= 0.5 * tol
            tri: str | None = None
            sym = 0.0
            if flat_h and dl > 0.5 * tol:
                tri, sym = "ascending_triangle", _closeness(abs(dh), 0.5 * tol)
            elif flat_l and dh < -0.5 * tol:
                tri, sym = "descending_triangle", _closeness(abs(dl), 0.5 * tol)
            elif dh < -0.5 * tol and dl > 0.5 * tol:
                tri, sym = "symmetric_triangle", _closeness(abs(abs(dh) - abs(dl)),
                                                             max(abs(dh), abs(dl)))
            first = last4[0].index
            h = (ah + bh * first) - (al + bl * first)
            if tri is not None and h >= min_h:
                pts4 = tuple((x.index, x.price) for x in last4)
                # a triangle breaks either way: one formation per side
                out.append(_Formation(tri, 1, pts4, ah, bh, al + bl * now, h, sym, now))
                out.append(_Formation(tri, -1, pts4, al, bl, ah + bh * now, h, sym, now))
    # flag: a pole (swing to swing) of at least pole_atr, then a shallow pullback swing;
    # the break of the pole's end continues the move
    pole = abs(mid.price - a1.price)
    if mid.side == -s.side and pole >= p.pole_atr * atr and a1.side == s.side:
        retrace = abs(mid.price - s.price) / pole
        up = mid.side > 0
        if 0 < retrace <= p.flag_retrace:
            kind = "bull_flag" if up else "bear_flag"
            out.append(_Formation(kind, 1 if up else -1, pts3, mid.price, 0.0,
                                  s.price, pole, 1.0 - retrace / p.flag_retrace, now))
    # resistance / support: the newest swing touches an earlier one of its side
    same = [x for x in chain[:-1] if x.side == s.side]
    touches = [x for x in same[-6:] if abs(x.price - s.price) <= tol]
    if touches:
        level = (sum(x.price for x in touches) + s.price) / (len(touches) + 1)
        opp = [x.price for x in chain if x.side != s.side and x.index > touches[0].index]
        if opp:
            h = abs(level - (min(opp) if s.side > 0 else max(opp)))
            if h >= min_h:
                kind = "resistance_break" if s.side > 0 else "support_break"
                pts = tuple((x.index, x.price) for x in (*touches, s))
                spread = max(abs(x.price - level) for x in (*touches, s))
                out.append(_Formation(kind, s.side, pts, level, 0.0,
                                      min(opp) if s.side > 0 else max(opp), h,
                                      _closeness(spread, tol), now))
    return out


def detect(high: Any, low: Any, close: Any, volume: Any,
           params: PatternParams | None = None) -> list[Detection]:
    """Every confirmed pattern, in the order it became knowable."""
    p = params or PatternParams()
    h = np.ascontiguousarray(high, dtype=np.float64)
    lo = np.ascontiguousarray(low, dtype=np.float64)
    c = np.ascontiguousarray(close, dtype=np.float64)
    v = np.ascontiguousarray(volume, dtype=np.float64)
    atr = true_range_mean(h, lo, c, p.atr_period)
    vol20 = window_mean(v, 20)
    chain: list[Swing] = []
    out: list[Detection] = []
    for sw in swings(h, lo, p.swing):
        if chain and chain[-1].side == sw.side:
            # same side again: keep the more extreme of the two
            better = sw.price > chain[-1].price if sw.side > 0 else sw.price < chain[-1].price
            if not better:
                continue
            chain[-1] = sw
        else:
            chain.append(sw)
        del chain[:-12]
        i0 = sw.known_at
        fired: dict[tuple[tuple[int, float], ...], int] = {}
        new: list[Detection] = []
        for f in _formations(chain, float(atr[i0]), p, i0):
            k = _first_break(f, c, p.max_wait)
            if k is None:
                continue
            if f.points in fired and fired[f.points] <= k:
                continue
            fired[f.points] = k
            level = f.a + f.b * k
            new.append(_detection(f, k, level, float(c[k]), float(atr[k]), v[k], vol20[k]))
        # a triangle breaks one way only: the side that broke first wins
        out.extend(d for d in new if d.knowable_at == fired[d.key_points])
    out.sort(key=lambda d: (d.knowable_at, d.kind, d.direction))
    return out


def _first_break(f: _Formation, c: F64, max_wait: int) -> int | None:
    """The first close beyond the trigger after the formation became knowable, unless
    price went past the invalidation level first (or on the same candle) or the wait
    ran out. A formation whose trigger was already crossed when it became knowable is
    stale: None."""
    i0 = f.born
    if f.direction * (c[i0] - (f.a + f.b * i0)) > 0:
        return None
    idx = np.arange(i0 + 1, min(c.shape[0], i0 + max_wait + 1))
    if idx.size == 0:
        return None
    seg = c[idx]
    brk = np.flatnonzero(f.direction * (seg - (f.a + f.b * idx)) > 0)
    if brk.size == 0:
        return None
    inv = np.flatnonzero(f.direction * (seg[: brk[0] + 1] - f.invalid) < 0)
    return None if inv.size else int(idx[brk[0]])


def _detection(f: _Formation, i: int, level: float, close: float, atr: float,
               vol: float, vol20: float) -> Detection:
    size = min(1.0, f.height / (4.0 * atr)) if atr > 0 else 0.0
    brk = min(1.0, abs(close - level) / (0.5 * atr)) if atr > 0 else 0.0
    volc = min(1.0, vol / (2.0 * vol20)) if vol20 > 0 and vol20 == vol20 else 0.0
    comps = {"symmetry": round(f.symmetry, 6), "size": round(size, 6),
             "break": round(brk, 6), "volume": round(volc, 6)}
    conf = float(np.clip((f.symmetry + size + brk + volc) / 4.0, 0.0, 1.0))
    return Detection(f.kind, f.direction, i, f.points, float(level), float(f.height), conf,
                     f.height / atr if atr > 0 else 0.0, comps)


def pattern_columns(high: Any, low: Any, close: Any, volume: Any,
                    params: PatternParams | None = None) -> dict[str, Any]:
    """Detections as frame columns at their knowable candle: ``pattern_signal``
    (+1/-1/0), ``pattern_confidence``, ``pattern_kind`` (code, see `KINDS`) and
    ``pattern_strength`` (height in ATR). Where several confirm on one candle, the most
    confident wins (ties: bearish first, the safer reading)."""
    n = np.asarray(close).shape[0]
    sig = np.zeros(n)
    conf = np.zeros(n)
    kind = np.zeros(n)
    strength = np.zeros(n)
    for d in detect(high, low, close, volume, params):
        i = d.knowable_at
        if d.confidence > conf[i] or (d.confidence == conf[i] and d.direction < sig[i]):
            sig[i], conf[i], kind[i] = d.direction, d.confidence, KIND_CODE[d.kind]
            strength[i] = d.strength
    return {"pattern_signal": sig, "pattern_confidence": conf, "pattern_kind": kind,
            "pattern_strength": strength}
