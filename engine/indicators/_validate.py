"""Input checks shared by every public wrapper.

The kernels trust their inputs completely (no bounds or dtype checks in the hot loop), so
everything a user can get wrong is caught here, once per call, with a message that names
the offending argument. The fast path (already a contiguous 1-D float64 array) costs one
type check and two attribute reads, which keeps per-call overhead below TA-Lib's.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
_F64 = np.dtype(np.float64)
_INF = float("inf")


def as_f64(x: Any, name: str = "input") -> F64:
    """Return ``x`` as a contiguous 1-D float64 array (no copy when it already is one)."""
    if type(x) is np.ndarray and x.dtype is _F64 and x.ndim == 1 and x.flags.c_contiguous:
        return x
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of numbers: {exc}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per candle), got shape {a.shape}")
    return a


def as_f64_2d(x: Any, name: str = "input") -> F64:
    """Return ``x`` as a contiguous 2-D float64 array shaped (symbols, time)."""
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D array of numbers: {exc}") from None
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (symbols x time), got shape {a.shape}")
    return a


def same_length(*pairs: tuple[str, F64]) -> None:
    """Raise when the arrays do not describe the same candles."""
    n = pairs[0][1].shape
    for name, a in pairs[1:]:
        if a.shape != n:
            first = pairs[0][0]
            raise ValueError(
                f"{name} has shape {a.shape} but {first} has shape {n}: "
                "all inputs must describe the same candles"
            )


def period(p: Any, name: str = "period", minimum: int = 1) -> int:
    """Return ``p`` as an int >= ``minimum`` (bools and floats are refused, not truncated)."""
    if type(p) is int and p >= minimum:
        return p
    if isinstance(p, bool):
        raise ValueError(f"{name} must be an integer, got {p!r}")
    try:
        v = operator.index(p)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {p!r}") from None
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def number(v: Any, name: str) -> float:
    """Return ``v`` as a finite float."""
    if type(v) is float and -_INF < v < _INF:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f
