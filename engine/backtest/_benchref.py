"""The minimal reference loop the benchmark compares the core against."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def reference_loop(op, valid, el, xl):
    """Minimal long-only loop: signal at t-1 fills at open t; no stops, fees or wallet."""
    n_t, n_p = op.shape
    total = 0.0
    trades = 0
    for p in range(n_p):
        inpos = False
        entry = 0.0
        for t in range(1, n_t):
            if not valid[t, p]:
                continue
            if inpos:
                if xl[t - 1, p]:
                    total += op[t, p] / entry - 1.0
                    trades += 1
                    inpos = False
            elif el[t - 1, p]:
                entry = op[t, p]
                inpos = True
    return total, trades
