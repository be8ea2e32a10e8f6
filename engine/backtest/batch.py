"""Evaluating many parameter sets at once: the engine of hyperopt.

Three evaluators with one interface (``evaluate(param_sets, default_stoploss)`` -> one
stats row per set, columns `STAT_NAMES`):

- `FrameEvaluator`, for any strategy: the frame of each pair (candles plus the
  point-in-time sentiment columns, the costly part with news) is built ONCE, read-only;
  per parameter set the strategy's own ``populate_*`` run on a shallow copy of it and
  the numba `simulate` + `trade_stats` turn the signals into stats, one GIL-free thread
  per core (``--jobs``). What it asks the strategy is exactly what `run_backtest` asks,
  so the stats are the backtest's (the test compares them set by set).
- `BatchEvaluator`, ``ema_rsi_cross`` only: one numba kernel recomputes its indicators
  too, so not even the populate calls run in Python (the hyperopt benchmark's path).
- `SingleEvaluator`: `run_backtest` per set; the fallback for a strategy that writes
  into its input columns (the shared frames are read-only, so that is detected).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from engine.backtest.core import F_PROFIT, I_T_CLOSE, simulate
from engine.indicators._common import ema_into, first_valid1
from engine.indicators.momentum import rsi_into
from engine.strategy.interface import Frame, Strategy, analyze, extract_signals

F64 = npt.NDArray[np.float64]

# columns of the stats matrix one evaluation yields
S_PROFIT, S_TRADES, S_WINS, S_SHARPE, S_SORTINO, S_CALMAR, S_DD_ABS, S_DD_ACC = range(8)
N_S = 8
STAT_NAMES = (
    "profit_total_abs",
    "total_trades",
    "wins",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_abs",
    "max_drawdown_account",
)


@njit(cache=True, nogil=True)
def trade_stats(irec, frec, ntr, wallet, days):
    """Freqtrade's trade-based stats from a simulate() result (see metrics.py)."""
    out = np.zeros(N_S)
    if ntr == 0:
        return out
    pa = np.empty(ntr)
    for i in range(ntr):
        pa[i] = np.round(frec[i, F_PROFIT], 8)
    order = np.argsort(irec[:ntr, I_T_CLOSE], kind="mergesort")
    total = 0.0
    wins = 0
    s = 0.0
    s2 = 0.0
    neg_n = 0
    neg_s = 0.0
    neg_s2 = 0.0
    high = 0.0
    max_dd = 0.0
    dd_acc = 0.0
    cum = 0.0
    for j in range(ntr):
        x = pa[order[j]]
        cum += x
        if cum > high:
            high = cum
        dd = high - cum
        if dd > max_dd:
            max_dd = dd
            dd_acc = dd / (wallet + high)
        r = x / wallet
        total += x
        s += r
        s2 += r * r
        if x > 0:
            wins += 1
        if x < 0:
            neg_n += 1
            neg_s += r
            neg_s2 += r * r
    d = max(1, days)
    mean = s / ntr
    sd = math.sqrt(max(s2 / ntr - mean * mean, 0.0))
    out[S_PROFIT] = total
    out[S_TRADES] = ntr
    out[S_WINS] = wins
    out[S_SHARPE] = (s / d) / sd * math.sqrt(365.0) if sd > 0 else -100.0
    if neg_n > 0:
        nm = neg_s / neg_n
        nsd = math.sqrt(max(neg_s2 / neg_n - nm * nm, 0.0))
        out[S_SORTINO] = (s / d) / nsd * math.sqrt(365.0) if nsd > 0 else -100.0
    else:
        out[S_SORTINO] = -100.0
    out[S_CALMAR] = (
        (total / wallet / d * 100.0) / dd_acc * math.sqrt(365.0) if dd_acc > 0 else -100.0
    )
    out[S_DD_ABS] = max_dd
    out[S_DD_ACC] = dd_acc
    return out


@njit(cache=True, nogil=True)
def _signals_ema_rsi(cl, vol, valid, offset, length, fast, slow, rsi_p, rsi_max, el, xl, f, s, r):
    """Signals of one parameter set into the (times, pairs) ``el``/``xl``; ``f``, ``s``,
    ``r`` are scratch buffers at least as long as the longest pair."""
    n_p = cl.shape[0]
    for p in range(n_p):
        a = offset[p]
        n = length[p]
        x = cl[p, a : a + n]
        st = first_valid1(x)
        ema_into(x, st, fast, f)
        ema_into(x, st, slow, s)
        rsi_into(x, st, rsi_p, r)
        el[a, p] = False
        xl[a, p] = False
        for i in range(1, n):
            up = f[i] > s[i] and f[i - 1] <= s[i - 1]
            el[a + i, p] = up and r[i] < rsi_max and vol[a + i, p] > 0
            xl[a + i, p] = f[i] < s[i] and f[i - 1] >= s[i - 1]


@njit(cache=True, nogil=True)
def batch_ema_rsi(op, hi, lo, cl, vol, valid, offset, length, tick, last_idx, end_t, fasts,
                  slows, rsi_ps, rsi_maxs, stoplosses, tf_min, stake, wallet, fee, days):
    """Evaluate many ema_rsi_cross parameter sets; one stats row per set. Serial and
    GIL-free: `BatchEvaluator` runs one call per thread on a share of the sets (cheaper
    to compile than ``parallel=True`` and the threads map directly onto ``--jobs``)."""
    n_sets = fasts.shape[0]
    n_t, n_p = op.shape
    out = np.zeros((n_sets, N_S))
    empty_f = np.zeros(0)
    # buffers shared by all sets of this call (signals are fully rewritten per set)
    el = np.zeros((n_t, n_p), dtype=np.bool_)
    xl = np.zeros((n_t, n_p), dtype=np.bool_)
    es = np.zeros((n_t, n_p), dtype=np.bool_)
    scale = np.ones((n_t, n_p))
    limit = np.full((n_t, n_p), np.nan)
    m = 0
    for p in range(n_p):
        m = max(m, length[p])
    f = np.empty(m)
    s = np.empty(m)
    r = np.empty(m)
    for k in range(n_sets):
        _signals_ema_rsi(cl, vol, valid, offset, length, fasts[k], slows[k], rsi_ps[k],
                         rsi_maxs[k], el, xl, f, s, r)
        cap = 1 + n_p
        for t in range(n_t):
            for p in range(n_p):
                if el[t, p]:
                    cap += 1
        irec, frec, ntr = simulate(op, hi, lo, valid, el, xl, es, es, scale, limit, tick,
                                   last_idx, end_t, stoplosses[k], False, np.nan, 0.0, False,
                                   empty_f, empty_f, tf_min, stake, 0.0, wallet, -1, fee, fee,
                                   0.0, cap)
        out[k] = trade_stats(irec, frec, ntr, wallet, days)
    return out


def _split(n: int, jobs: int, run: Callable[[int, int], F64]) -> F64:
    """`run(lo, hi)` over shares of n sets, one thread each (numba releases the GIL)."""
    workers = max(1, min(jobs, n))
    if workers == 1:
        return run(0, n)
    edges = np.linspace(0, n, workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        return np.vstack(list(pool.map(run, edges[:-1], edges[1:])))


def _days(candles: Mapping[str, Any]) -> int:
    starts = [int(c.open_time[0]) for c in candles.values()]
    ends = [int(c.open_time[-1]) for c in candles.values()]
    return (max(ends) - min(starts)) // 86_400_000


class _Prepared:
    """The grid, price steps and slot bookkeeping every evaluator of a dataset needs."""

    def __init__(self, candles: Mapping[str, Any], jobs: int) -> None:
        from engine.backtest.runner import make_grid, monthly_tick_decimals

        self.jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
        self.timeframe = next(iter(candles.values())).timeframe
        self.grid = g = make_grid(dict(candles), self.timeframe)
        n_t, n_p = g.valid.shape
        self.tick = np.full((n_t, n_p), -1, dtype=np.int64)
        for i, s in enumerate(g.pairs):
            a, b = int(g.offset[i]), int(g.offset[i] + g.length[i])
            self.tick[a:b, i] = monthly_tick_decimals(candles[s])
        self.last_idx = (g.offset + g.length - 1).astype(np.int64)
        self.days = _days(candles)


class BatchEvaluator(_Prepared):
    """Prepared arrays of one dataset, evaluating parameter sets of ema_rsi_cross."""

    kind = "ema_rsi_kernel"

    def __init__(
        self, candles: dict[str, Any], *, stake: float, fee: float, wallet: float, jobs: int = 0
    ) -> None:
        super().__init__(candles, jobs)
        g = self.grid
        self.vol = np.zeros(g.valid.shape)
        for i, s in enumerate(g.pairs):
            a, b = int(g.offset[i]), int(g.offset[i] + g.length[i])
            self.vol[a:b, i] = candles[s].volume
        self.close_pt = np.ascontiguousarray(g.close.T)  # per-pair rows for the indicators
        self.stake, self.fee, self.wallet = float(stake), float(fee), float(wallet)

    def evaluate(self, params: list[dict[str, Any]], default_stoploss: float) -> F64:
        """Stats rows (see STAT_NAMES) for each parameter dict."""
        g = self.grid

        def col(name: str, default: float, dtype: Any) -> npt.NDArray[Any]:
            return np.array([p.get(name, default) for p in params], dtype=dtype)

        cols = (col("fast", 12, np.int64), col("slow", 26, np.int64),
                col("rsi_period", 14, np.int64), col("rsi_max", 70.0, np.float64),
                col("stoploss", default_stoploss, np.float64))

        def run(lo: int, hi: int) -> F64:
            return batch_ema_rsi(  # type: ignore[call-arg]
                g.open, g.high, g.low, self.close_pt, self.vol, g.valid, g.offset, g.length,
                self.tick, self.last_idx, g.n_times - 1, *(c[lo:hi] for c in cols),
                g.step_ms / 60000.0, self.stake, self.wallet, self.fee, int(self.days))

        return _split(len(params), self.jobs, run)


def clone(strategy: Strategy) -> Strategy:
    """An independent copy for one parameter set (threads never share an instance)."""
    try:
        return copy.deepcopy(strategy)
    except Exception:  # a strategy holding something uncopyable (a lock, a client)
        return copy.copy(strategy)


def with_params(strategy: Strategy, params: Mapping[str, Any],
                default_stoploss: float) -> Strategy:
    """A clone of `strategy` with one parameter set (``stoploss`` among them or not)."""
    p = dict(params)
    sl = float(p.pop("stoploss", default_stoploss))
    s = clone(strategy)
    s.set_params(**p)
    s.stoploss = sl
    return s


def _read_only(frame: Frame) -> Frame:
    out = Frame(n=frame.n)
    for k, v in frame.items():
        if isinstance(v, np.ndarray):
            v = v.view()
            v.flags.writeable = False
        out[k] = v
    return out


def writes_inputs(e: BaseException) -> bool:
    """True when a StrategyError comes from writing into a read-only input column."""
    cause = e.__cause__
    return isinstance(cause, ValueError) and "read-only" in str(cause)


class FrameEvaluator(_Prepared):
    """Any vectorised strategy: frames once, ``populate_*`` per set, numba simulation."""

    kind = "frames"

    def __init__(self, candles: dict[str, Any], strategy: Strategy, *, stake: float,
                 fee: float, wallet: float, jobs: int = 0,
                 news: Mapping[str, Sequence[Any]] | None = None, news_delay_s: float = 0.0,
                 agg: Any = None, max_open_trades: int = -1) -> None:
        from engine.backtest.runner import build_frame, parse_stake
        from sentiment.aggregate import base_symbol

        super().__init__(candles, jobs)
        self.strategy = strategy
        delay_ms = round(news_delay_s * 1000)
        self.frames = [
            _read_only(build_frame(candles[s], (news or {}).get(base_symbol(s)),
                                   delay_ms=delay_ms, agg=agg))
            for s in self.grid.pairs
        ]
        self.stake_fixed, self.stake_pct = parse_stake(stake)
        self.fee, self.wallet = float(fee), float(wallet)
        self.max_open = int(max_open_trades)

    def _signals(self, strat: Strategy, bufs: list[npt.NDArray[Any]]) -> None:
        g = self.grid
        for i, s in enumerate(g.pairs):
            base = self.frames[i]
            frame = analyze(strat, Frame(dict(base), n=base.n),
                            {"pair": s, "timeframe": self.timeframe})
            sg = extract_signals(strat, frame)
            a, b = int(g.offset[i]), int(g.offset[i] + g.length[i])
            for m, col in zip(bufs, (sg.enter_long, sg.exit_long, sg.enter_short,
                                     sg.exit_short, sg.stake_scale, sg.enter_limit),
                              strict=True):
                m[a:b, i] = col

    def stats(self, strat: Strategy, bufs: list[npt.NDArray[Any]] | None = None) -> F64:
        """One stats row for one configured strategy instance."""
        g = self.grid
        shape = g.valid.shape
        if bufs is None:
            bufs = [*(np.zeros(shape, dtype=np.bool_) for _ in range(4)), np.zeros(shape),
                    np.full(shape, np.nan)]
        self._signals(strat, bufs)
        el, xl, es, xs, scale, limit = bufs
        roi = sorted(strat.minimal_roi.items())
        tsp = strat.trailing_stop_positive
        irec, frec, ntr = simulate(
            g.open, g.high, g.low, g.valid, el, xl, es, xs, scale, limit, self.tick,
            self.last_idx, g.n_times - 1,
            float(strat.stoploss) if strat.stoploss is not None else np.nan,
            bool(strat.trailing_stop), np.nan if tsp is None else float(tsp),
            float(strat.trailing_stop_positive_offset),
            bool(strat.trailing_only_offset_is_reached),
            np.array([float(k) for k, _ in roi]), np.array([float(v) for _, v in roi]),
            g.step_ms / 60000.0, self.stake_fixed, self.stake_pct, self.wallet, self.max_open,
            self.fee, self.fee, 0.0, int(el.sum() + es.sum()) + shape[1] + 1)
        return np.asarray(trade_stats(irec, frec, ntr, self.wallet, int(self.days)))

    def evaluate(self, params: list[dict[str, Any]], default_stoploss: float) -> F64:
        def run(lo: int, hi: int) -> F64:
            out = np.zeros((hi - lo, N_S))
            shape = self.grid.valid.shape
            bufs = [*(np.zeros(shape, dtype=np.bool_) for _ in range(4)), np.zeros(shape),
                    np.full(shape, np.nan)]
            for k in range(lo, hi):
                out[k - lo] = self.stats(with_params(self.strategy, params[k],
                                                     default_stoploss), bufs)
            return out

        return _split(len(params), self.jobs, run)


class SingleEvaluator:
    """`run_backtest` per set: slower, needs nothing of the strategy."""

    kind = "single"

    def __init__(self, candles: dict[str, Any], strategy: Strategy, **bt: Any) -> None:
        self.candles, self.strategy, self.bt = candles, strategy, bt

    def evaluate(self, params: list[dict[str, Any]], default_stoploss: float) -> F64:
        from engine.backtest.runner import run_backtest

        rows = []
        for p in params:
            r = run_backtest(self.candles, with_params(self.strategy, p, default_stoploss),
                             **self.bt)
            rows.append([float(r.metrics[k]) for k in STAT_NAMES])
        return np.array(rows, dtype=np.float64).reshape(len(params), N_S)
