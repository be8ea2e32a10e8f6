"""The minimal reference loop the benchmark compares the core against."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def reference_loop(op, valid, el, xl):  # type: ignore[no-untyped-def]
    """Minimal long-only loop: signal at t-1 fills at open t; no stops, fees or wallet."""
    n_p, n_t = op.shape
    total = 0.0
    trades = 0
    for p in range(n_p):
        inpos = False
        entry = 0.0
        for t in range(1, n_t):
            if not valid[p, t]:
                continue
            if inpos:
                if xl[p, t - 1]:
                    total += op[p, t] / entry - 1.0
                    trades += 1
                    inpos = False
            elif el[p, t - 1]:
                entry = op[p, t]
                inpos = True
    return total, trades
