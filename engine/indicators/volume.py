"""Volume family: OBV, MFI, VWAP (rolling and session), AD, ADOSC, CMF."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import (
    fill_nan,
    first_valid2,
    first_valid4,
    fma,
    is_zero_scaled,
)
from engine.indicators._validate import F64

__all__ = ["ad", "adosc", "cmf", "mfi", "obv", "vwap", "vwap_session"]


@njit(cache=True, nogil=True, error_model="numpy")
def obv_into(close, volume, start, out):
    """TA-Lib OBV: starts at the first candle's volume, adds or subtracts each volume by
    the sign of the close change. An unchanged (or NaN) close leaves OBV unchanged without
    reading the volume, so a NaN volume there does not poison the total (as in TA-Lib)."""
    n = close.shape[0]
    fill_nan(out, start)
    if start >= n:
        return
    acc = volume[start]
    prev = close[start]
    cs = close[start:]
    vs = volume[start:]
    os = out[start:]
    for j in range(cs.shape[0]):
        c = cs[j]
        # branch-free: a random-walk close mispredicts an if/elif half the time
        sign = np.float64(c > prev) - np.float64(c < prev)
        step = vs[j] * sign
        acc += step if sign != 0.0 else 0.0
        os[j] = acc
        prev = c


@njit(cache=True, nogil=True, error_model="numpy")
def _obv(close, volume, out):
    obv_into(close, volume, first_valid2(close, volume), out)


def obv(close: Any, volume: Any) -> F64:
    """On-Balance Volume (TA-Lib ``OBV``)."""
    c = v.as_f64(close, "close")
    vol = v.as_f64(volume, "volume")
    if c.shape != vol.shape:
        v.same_length(("close", c), ("volume", vol))
    out = np.empty(c.shape[0])
    _obv(c, vol, out)
    return out


def _run(kernel: Any, high: Any, low: Any, close: Any, volume: Any, *args: Any) -> F64:
    """Validate the candles, allocate the output with numpy, run ``kernel(..., out)``."""
    h, lo, c, vol = _hlcv(high, low, close, volume)
    out = np.empty(c.shape[0])
    kernel(h, lo, c, vol, *args, out)
    return out


def _hlcv(high: Any, low: Any, close: Any, volume: Any) -> tuple[F64, F64, F64, F64]:
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    c = v.as_f64(close, "close")
    vol = v.as_f64(volume, "volume")
    if not (h.shape == lo.shape == c.shape == vol.shape):
        v.same_length(("high", h), ("low", lo), ("close", c), ("volume", vol))
    return h, lo, c, vol


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _clv_volume(h, lo, c, vol):
    """Close location value times volume, TA-Lib's expression order; 0 for a candle with
    no range (``high - low <= 0``)."""
    r = h - lo
    return (((c - lo) - (h - c)) / r) * vol if r > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def ad_into(high, low, close, volume, start, out):
    """Chaikin accumulation/distribution line of ``[start:]`` (TA-Lib ``AD``)."""
    fill_nan(out, start)
    acc = 0.0
    hs, ls, cs, vs, os = high[start:], low[start:], close[start:], volume[start:], out[start:]
    for j in range(cs.shape[0]):
        acc += _clv_volume(hs[j], ls[j], cs[j], vs[j])
        os[j] = acc


@njit(cache=True, nogil=True, error_model="numpy")
def _ad(high, low, close, volume, out):
    ad_into(high, low, close, volume, first_valid4(high, low, close, volume), out)


def ad(high: Any, low: Any, close: Any, volume: Any) -> F64:
    """Accumulation/distribution line (TA-Lib ``AD``); defined from the first candle."""
    return _run(_ad, high, low, close, volume)


@njit(cache=True, nogil=True, error_model="numpy")
def _adosc(high, low, close, volume, fast, slow, out):
    """TA-Lib ADOSC: EMA(fast) - EMA(slow) of the AD line, both EMAs seeded with the first
    AD value (not an SMA) and output from ``max(fast, slow) - 1``."""
    n = close.shape[0]
    start = first_valid4(high, low, close, volume)
    first = start + max(fast, slow) - 1
    fill_nan(out, first)
    if first >= n:
        return
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    kf1 = 1.0 - kf
    ks1 = 1.0 - ks
    acc = _clv_volume(high[start], low[start], close[start], volume[start])
    ef = acc
    es = acc
    for i in range(start + 1, first):
        acc += _clv_volume(high[i], low[i], close[i], volume[i])
        ef = fma(ef, kf1, kf * acc)
        es = fma(es, ks1, ks * acc)
    q = max(first, start + 1)
    hs, ls, cs, vs, os = high[q:], low[q:], close[q:], volume[q:], out[q:]
    for j in range(cs.shape[0]):
        acc += _clv_volume(hs[j], ls[j], cs[j], vs[j])
        ef = fma(ef, kf1, kf * acc)
        es = fma(es, ks1, ks * acc)
        os[j] = ef - es
    if first == start:
        out[first] = 0.0


def adosc(
    high: Any, low: Any, close: Any, volume: Any, fastperiod: int = 3, slowperiod: int = 10
) -> F64:
    """Chaikin A/D oscillator (TA-Lib ``ADOSC``)."""
    return _run(_adosc, high, low, close, volume, v.period(fastperiod, "fastperiod"),
                v.period(slowperiod, "slowperiod"))


@njit(cache=True, nogil=True, error_model="numpy")
def _mfi(high, low, close, volume, period, out):
    """TA-Lib MFI: money flow ``typical price * volume`` split by the sign of the typical
    price change, positive and negative sums over the window kept as running sums in
    TA-Lib's order; ``100 * pos / (pos + neg)``, 0 when the sum is not positive, clamped
    to [0, 100] (a negative price could push it out). As in TA-Lib 0.8, a typical-price
    change within 1e-14 of the price counts as none, a window without any move gives 0
    (not the running sums' residue), and a NaN price or volume makes every later value
    NaN."""
    n = close.shape[0]
    start = first_valid4(high, low, close, volume)
    first = start + period
    fill_nan(out, first)
    if first >= n:
        return
    ring = np.zeros((3, period))  # one allocation: short inputs are per-call overhead
    pos = ring[0]
    neg = ring[1]
    moved = ring[2]  # 1.0 where the typical price moved at that slot
    nmoved = 0
    spos = 0.0
    sneg = 0.0
    prev = (high[start] + low[start] + close[start]) / 3.0
    idx = 0
    for today in range(start + 1, n):
        if today > first:
            spos -= pos[idx]
            sneg -= neg[idx]
            nmoved -= int(moved[idx])
        tp = (high[today] + low[today] + close[today]) / 3.0
        d = tp - prev
        flat = is_zero_scaled(d, abs(tp) + abs(prev))
        prev = tp
        mf = tp * volume[today]
        # TA-Lib 0.8: a change within 1e-14 of the price is no change; up, or NaN (which
        # then poisons the sums for good, as in TA-Lib), is positive flow. Selects, not
        # branches: the direction of a real market is a coin flip for the predictor.
        down = (not flat) and d < 0.0
        up = (not flat) and not (d < 0.0)
        pv = mf if up else 0.0
        nv = mf if down else 0.0
        pos[idx] = pv
        neg[idx] = nv
        spos += pv
        sneg += nv
        moved[idx] = 0.0 if flat else 1.0
        nmoved += not flat
        idx += 1
        if idx == period:
            idx = 0
        if today >= first:
            if nmoved == 0:
                # no flow left in the window: TA-Lib reports 0 and its sums restart from
                # an exact 0 instead of the running sums' rounding residue
                spos = 0.0
                sneg = 0.0
                out[today] = 0.0
                continue
            s = spos + sneg
            if s <= 0.0:
                out[today] = 0.0
            else:  # NaN stays NaN
                r = 100.0 * (spos / s)
                out[today] = 100.0 if r > 100.0 else (0.0 if r < 0.0 else r)


def mfi(high: Any, low: Any, close: Any, volume: Any, period: int = 14) -> F64:
    """Money flow index, a volume-weighted RSI (TA-Lib ``MFI``); first value at
    ``period``."""
    return _run(_mfi, high, low, close, volume, v.period(period))


CMF_CHUNK = 4096


@njit(cache=True, nogil=True, error_model="numpy")
def _cmf(high, low, close, volume, period, out):
    """Chaikin money flow: the sum of close-location-weighted volume over the window
    divided by the window's volume (0 when the volume is not positive). Running sums as in
    TA-Lib, so a NaN close poisons the rest of the series and a NaN volume zeroes it, as
    there."""
    n = close.shape[0]
    start = first_valid4(high, low, close, volume)
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    sm = 0.0
    sv = 0.0
    for i in range(start, first):
        sm += _clv_volume(high[i], low[i], close[i], volume[i])
        sv += volume[i]
    # the close-location values are computed a chunk at a time into a small buffer (a
    # vectorised pass, one division per candle) instead of twice per candle inside the
    # serial loop (entering the window and leaving it); the sums see the very same values
    chunk = max(CMF_CHUNK, 4 * period)
    buf = np.empty(min(chunk, n - first) + period - 1)
    for c0 in range(first, n, chunk):
        c1 = min(c0 + chunk, n)
        b0 = c0 - period + 1  # buf[k] is the value of candle b0 + k
        m = c1 - b0
        hb, lb, cb, vb = high[b0:c1], low[b0:c1], close[b0:c1], volume[b0:c1]
        for k in range(m):
            buf[k] = _clv_volume(hb[k], lb[k], cb[k], vb[k])
        vs, os = volume[c0:c1], out[c0:c1]
        new, old = buf[period - 1 : m], buf[: c1 - c0]
        for j in range(c1 - c0):
            sm += new[j]
            sv += vs[j]
            os[j] = sm / sv if sv > 0.0 else 0.0
            sm -= old[j]
            sv -= vb[j]


def cmf(high: Any, low: Any, close: Any, volume: Any, period: int = 20) -> F64:
    """Chaikin money flow in [-1, 1] (TA-Lib ``CMF``); first value at ``period - 1``."""
    return _run(_cmf, high, low, close, volume, v.period(period))


@njit(cache=True, nogil=True, error_model="numpy")
def _vwap(high, low, close, volume, period, session, out):
    """VWAP of the typical price ``(h + l + c) / 3``.

    ``period == 0``: cumulative from the first candle, or from the start of each session
    (``session[i] != session[i - 1]`` starts a new one), exactly as TA-Lib's ``VWAP`` on
    each session's slice: a candle with a non-finite price or volume is skipped, a value
    carries forward while nothing has traded, and the line starts at 0 until the first
    volume. ``period > 0``: rolling over ``period`` candles, which is TA-Lib's
    ``VWMA(typical price, volume, period)`` (NaN for a window without volume)."""
    n = close.shape[0]
    start = first_valid4(high, low, close, volume)
    if period > 0:
        first = start + period - 1
        fill_nan(out, first)
        if first >= n:
            return
        if period == 1:
            for i in range(first, n):
                out[i] = (high[i] + low[i] + close[i]) / 3.0
            return
        spv = 0.0
        sv = 0.0
        for i in range(start, first):
            t = (high[i] + low[i] + close[i]) / 3.0 * volume[i]
            spv += t
            sv += volume[i]
        for i in range(first, n):
            t = (high[i] + low[i] + close[i]) / 3.0 * volume[i]
            spv += t
            sv += volume[i]
            tpv = spv
            tv = sv
            tr = i - period + 1
            t = (high[tr] + low[tr] + close[tr]) / 3.0 * volume[tr]
            spv -= t
            sv -= volume[tr]
            out[i] = tpv / period / (tv / period)
        return
    fill_nan(out, start)
    spv = 0.0
    sv = 0.0
    value = 0.0
    has_sessions = session.shape[0] == n
    hs, ls, cs, vs = high[start:], low[start:], close[start:], volume[start:]
    for j in range(cs.shape[0]):
        i = start + j
        if has_sessions and j > 0 and session[i] != session[i - 1]:
            spv = 0.0
            sv = 0.0
            value = 0.0
        tp = (hs[j] + ls[j] + cs[j]) / 3.0
        vol = vs[j]
        t = tp * vol
        if np.isfinite(tp) and np.isfinite(vol):
            spv += t
            sv += vol
        if sv > 0.0:
            value = spv / sv
        out[i] = value


_NO_SESSIONS = np.empty(0, dtype=np.int64)  # read-only: one array for every call


def vwap(
    high: Any, low: Any, close: Any, volume: Any, period: int | None = None
) -> F64:
    """Volume-weighted average price of the typical price.

    ``period=None``: cumulative from the first candle (TA-Lib ``VWAP``, which anchors at
    the start of what it is given; see :func:`vwap_session` for the usual daily anchor).
    ``period=n``: rolling over the last ``n`` candles."""
    p = 0 if period is None else v.period(period)
    return _run(_vwap, high, low, close, volume, p, _NO_SESSIONS)


def vwap_session(
    high: Any, low: Any, close: Any, volume: Any, timestamps: Any,
    session_ms: int = 86_400_000, offset_ms: int = 0, stamp: str = "close",
) -> F64:
    """Session VWAP: cumulative, restarting at every session boundary.

    ``timestamps`` are UTC ms since the epoch, one per candle. Sessions are
    ``session_ms`` long (default one day) and start at ``offset_ms`` past each multiple of
    it (UTC midnight by default). Candles are stamped with their close time in the engine
    (``stamp="close"``, the default): the candle stamped 00:00 covers (23:55, 00:00] and
    belongs to the day that ends there, so it is keyed by ``ts - 1``. Pass ``"open"`` for
    open-time stamps (as most files and ccxt deliver them). Each session equals TA-Lib's
    ``VWAP`` on that session's slice."""
    h, lo, c, vol = _hlcv(high, low, close, volume)
    try:
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"timestamps must be integer ms since the epoch: {exc}") from None
    if ts.shape != c.shape:
        raise ValueError(
            f"timestamps has shape {ts.shape} but close has shape {c.shape}: "
            "all inputs must describe the same candles"
        )
    length = v.period(session_ms, "session_ms")
    shift = int(offset_ms) + (1 if stamp == "close" else 0)
    if stamp not in ("close", "open"):
        raise ValueError(f'stamp must be "close" or "open", got {stamp!r}')
    key = (ts - shift) // length
    out = np.empty(c.shape[0])
    _vwap(h, lo, c, vol, 0, key, out)
    return out
