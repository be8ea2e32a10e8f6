"""Market regime per candle: quiet, ranging, trending or volatile.

Four measurements, each causal:
- ADX (trend strength, Wilder's 14),
- the ATR's percentile among its own last ``lookback`` values (how volatile now is
  relative to this market's recent past, so one threshold works for BTC and for a
  small cap),
- the Bollinger band width's percentile (quiet needs bands no wider than usual),
- a variance ratio VR(q) = Var(q-candle returns) / (q * Var(1-candle returns)) over a
  rolling window: > 1 when moves persist (trend), < 1 when they revert (range).

Precedence: trending, then volatile (wide swings without direction), quiet (a squeeze
relative to the last ``lookback`` candles: a squeeze that lasts longer than that becomes
the new normal and reads as ranging), ranging.

Regimes switch with hysteresis (enter a state at one threshold, leave it at a looser
one) so a market hovering at ADX 25 does not flip every candle; each strategy reading
the regime therefore sees fewer, longer episodes.

Look-back: ``lookback`` candles of ATR/width history plus the indicators' warm-up; a
strategy using this should set ``startup_candle_count >= lookback + 2 * period``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]

QUIET, RANGING, TRENDING, VOLATILE = 0, 1, 2, 3
REGIME_NAMES = ("quiet", "ranging", "trending", "volatile")


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """Thresholds; `*_enter` starts a state, `*_exit` ends it (hysteresis)."""

    period: int = 14
    lookback: int = 288
    vr_window: int = 96
    vr_lag: int = 4
    adx_enter: float = 25.0
    adx_exit: float = 20.0
    vol_enter: float = 0.85
    vol_exit: float = 0.70
    quiet_enter: float = 0.15
    quiet_exit: float = 0.30
    vr_trend: float = 1.0


@njit(cache=True)
def rolling_percentile(x, lookback):  # pragma: no cover - numba
    """Share of the last `lookback` finite values (row i included) that are <= x[i].

    NaN until `lookback` finite values exist: a percentile of a short history would
    call the first calm week "volatile"."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        xi = x[i]
        if xi != xi or i + 1 < lookback:
            continue
        le = 0
        ok = True
        for j in range(i - lookback + 1, i + 1):
            v = x[j]
            if v != v:
                ok = False
                break
            if v <= xi:
                le += 1
        if ok:
            out[i] = le / lookback
    return out


@njit(cache=True)
def variance_ratio(close, window, lag):  # pragma: no cover - numba
    """Lo-MacKinlay VR(lag) of log returns over the last `window` candles (each window
    summed from its own rows, so the value never depends on where history starts)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    r1 = np.full(n, np.nan)
    rq = np.full(n, np.nan)
    for j in range(1, n):
        r1[j] = np.log(close[j] / close[j - 1])
        if j >= lag:
            rq[j] = np.log(close[j] / close[j - lag])
    for i in range(window + lag, n):
        s1 = 0.0
        for j in range(i - window + 1, i + 1):
            s1 += r1[j]
        mu = s1 / window
        v1 = 0.0
        vq = 0.0
        for j in range(i - window + 1, i + 1):
            d = r1[j] - mu
            v1 += d * d
            e = rq[j] - lag * mu
            vq += e * e
        if v1 > 0.0 and v1 == v1 and vq == vq:
            out[i] = vq / (lag * v1)
    return out


@njit(cache=True)
def _classify(adx, vol_pct, width_pct, vr, adx_enter, adx_exit, vol_enter, vol_exit,
              quiet_enter, quiet_exit, vr_trend):  # pragma: no cover - numba
    n = adx.shape[0]
    out = np.full(n, -1, dtype=np.int8)
    state = -1
    for i in range(n):
        a, v, w, r = adx[i], vol_pct[i], width_pct[i], vr[i]
        if a != a or v != v or w != w or r != r:
            state = -1
            continue
        # a directional move first (a strong trend is also more volatile than usual,
        # and that is not what "volatile" should mean); then wide swings without
        # direction; a squeeze; otherwise a range
        if (a >= adx_enter and r >= vr_trend) or (state == TRENDING and a >= adx_exit):
            state = TRENDING
        elif (v >= vol_enter) or (state == VOLATILE and v >= vol_exit):
            state = VOLATILE
        elif w <= 0.5 and (v <= quiet_enter or (state == QUIET and v <= quiet_exit)):
            state = QUIET
        else:
            state = RANGING
        out[i] = state
    return out


def band_width(close: F64, period: int) -> F64:
    """Bollinger width 4 * std / mean over each window, summed from the window's own rows
    (TA-Lib's running sums drift with where history starts; a live window must not)."""
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] >= period:
        w = np.lib.stride_tricks.sliding_window_view(close, period)
        out[period - 1:] = 4.0 * w.std(axis=1) / w.mean(axis=1)
    return out


def regime_columns(high: Any, low: Any, close: Any,
                   params: RegimeParams | None = None) -> dict[str, Any]:
    """The regime and its inputs as frame columns.

    ``regime`` is int8 (-1 while warming up, then QUIET/RANGING/TRENDING/VOLATILE);
    ``adx``, ``atr_pct`` (ATR / close), ``vol_pctile``, ``width_pctile``, ``vr``."""
    from engine.indicators import adx, atr

    p = params or RegimeParams()
    h = np.ascontiguousarray(high, dtype=np.float64)
    lo = np.ascontiguousarray(low, dtype=np.float64)
    c = np.ascontiguousarray(close, dtype=np.float64)
    a = adx(h, lo, c, p.period)
    with np.errstate(invalid="ignore", divide="ignore"):
        atr_pct = atr(h, lo, c, p.period) / c
        width = band_width(c, 20)
    vol_pct = rolling_percentile(np.ascontiguousarray(atr_pct), p.lookback)
    width_pct = rolling_percentile(np.ascontiguousarray(width), p.lookback)
    vr = variance_ratio(c, p.vr_window, p.vr_lag)
    reg = _classify(a, vol_pct, width_pct, vr, p.adx_enter, p.adx_exit, p.vol_enter,
                    p.vol_exit, p.quiet_enter, p.quiet_exit, p.vr_trend)
    return {"regime": reg, "adx": a, "atr_pct": atr_pct, "vol_pctile": vol_pct,
            "width_pctile": width_pct, "vr": vr}


def regime_name(code: int) -> str:
    """'trending' etc.; 'warming up' before enough history."""
    return REGIME_NAMES[code] if 0 <= code < len(REGIME_NAMES) else "warming up"


def episodes(regime: I8) -> list[tuple[int, int, int]]:
    """(start, end_inclusive, regime) runs, for reports and tests of the hysteresis."""
    out: list[tuple[int, int, int]] = []
    r = np.asarray(regime)
    if r.size == 0:
        return out
    cuts = np.flatnonzero(r[1:] != r[:-1]) + 1
    starts = np.r_[0, cuts]
    ends = np.r_[cuts - 1, r.size - 1]
    for s, e in zip(starts, ends, strict=True):
        out.append((int(s), int(e), int(r[s])))
    return out
