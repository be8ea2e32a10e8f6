"""Monte Carlo robustness of a backtest's trade list.

Each scenario reorders the trades at random (the order luck of the run) and, if asked,
perturbs every trade's return with Gaussian noise (execution luck: ``noise`` is the
standard deviation as a fraction of the stake). The equity path is rebuilt with the same
stake per trade, and we report the 5/25/50/75/95th percentiles over scenarios of: total
return, max drawdown (of the path, relative to its peak), trade-based Sharpe and Calmar
(return per year over max drawdown). Shuffling alone cannot change the total return;
it only reshapes the path, so drawdown percentiles widen while return stays fixed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numba import njit

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult

F64 = npt.NDArray[np.float64]
PERCENTILES = (5, 25, 50, 75, 95)


@njit(cache=True, nogil=True)
def _scenarios(profit_abs, stake, wallet, n, noise, seed, years):
    np.random.seed(seed)
    m = profit_abs.shape[0]
    out = np.zeros((n, 4))
    x = profit_abs.copy()
    for s in range(n):
        # Fisher-Yates shuffle
        for i in range(m - 1, 0, -1):
            j = np.random.randint(0, i + 1)
            tmp = x[i]
            x[i] = x[j]
            x[j] = tmp
        eq = wallet
        peak = wallet
        mdd = 0.0
        s1 = 0.0
        s2 = 0.0
        for i in range(m):
            pa = x[i]
            if noise > 0.0:
                pa += np.random.normal() * noise * stake[i]
            r = pa / wallet
            s1 += r
            s2 += r * r
            eq += pa
            if eq > peak:
                peak = eq
            dd = (peak - eq) / peak if peak > 0 else 0.0
            if dd > mdd:
                mdd = dd
        total = eq / wallet - 1.0
        mean = s1 / m if m else 0.0
        sd = math.sqrt(max(s2 / m - mean * mean, 0.0)) if m else 0.0
        out[s, 0] = total
        out[s, 1] = mdd
        out[s, 2] = mean / sd * math.sqrt(m / years) if sd > 0 and years > 0 else 0.0
        out[s, 3] = (total / years) / mdd if mdd > 0 and years > 0 else 0.0
    return out


def monte_carlo(
    result: BacktestResult, *, scenarios: int = 1000, noise: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    """Percentiles of return, max drawdown, Sharpe and Calmar over shuffled scenarios."""
    if scenarios < 1:
        raise ValueError("scenarios must be at least 1")
    if noise < 0:
        raise ValueError("noise must be >= 0")
    tr = result.trades
    order = np.argsort(tr.close_ms, kind="stable")
    pa = np.ascontiguousarray(tr.realised()[order], dtype=np.float64)
    stake = np.ascontiguousarray(tr.stake_amount[order], dtype=np.float64)
    days = float(result.metrics.get("backtest_days", 0)) if result.metrics else 0.0
    years = max(days, 1.0) / 365.0
    if pa.size == 0:
        raise ValueError("no trades to resample")
    sims = _scenarios(
        pa, stake, float(result.wallet), int(scenarios), float(noise), int(seed), years
    )
    names = ("return", "max_drawdown", "sharpe", "calmar")
    out: dict[str, Any] = {
        "scenarios": scenarios,
        "noise": noise,
        "seed": seed,
        "trades": int(pa.size),
    }
    for i, name in enumerate(names):
        q = np.percentile(sims[:, i], PERCENTILES)
        out[name] = {f"p{p}": float(v) for p, v in zip(PERCENTILES, q, strict=True)}
    return out
