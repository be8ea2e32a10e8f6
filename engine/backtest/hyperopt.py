"""Hyperopt on Optuna with batched numba evaluation.

Optuna proposes parameter sets (ask), we evaluate a whole batch of them at once, then
report the losses (tell). For ``ema_rsi_cross``, where a trial only changes periods and
thresholds, one numba kernel recomputes the indicators and runs the same
`engine.backtest.core.simulate` for every set of the batch, one GIL-free thread per core
(``--jobs``): no process per trial, no pickling of candles. Other strategies fall back
to `run_backtest` per trial.

``--storage URL`` is an Optuna RDB URL (``postgresql://...``, ``sqlite:///file.db``): several
machines running the same ``--study`` share one study. Losses are "lower is better":

- sharpe / sortino / calmar: minus Freqtrade's trade-based ratios (see metrics.py);
- maxdrawdown: max account drawdown (ties broken by profit);
- profitdrawdown: -(profit - drawdown x profit x 0.925) (Freqtrade's ProfitDrawDown);
- multi: two objectives, maximise profit and minimise drawdown (Pareto front).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from numba import njit

from engine.backtest.core import F_PROFIT, I_T_CLOSE, simulate
from engine.errors import SentitradeError
from engine.indicators._common import ema_into, first_valid1
from engine.indicators.momentum import rsi_into

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


class HyperoptError(SentitradeError):
    """Hyperopt cannot run as asked (sampler missing, bad storage URL, bad space)."""


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
def batch_ema_rsi(
    op,
    hi,
    lo,
    cl,
    vol,
    valid,
    offset,
    length,
    tick,
    last_idx,
    end_t,
    fasts,
    slows,
    rsi_ps,
    rsi_maxs,
    stoplosses,
    tf_min,
    stake,
    wallet,
    fee,
    days,
):
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
        _signals_ema_rsi(
            cl,
            vol,
            valid,
            offset,
            length,
            fasts[k],
            slows[k],
            rsi_ps[k],
            rsi_maxs[k],
            el,
            xl,
            f,
            s,
            r,
        )
        cap = 1 + n_p
        for t in range(n_t):
            for p in range(n_p):
                if el[t, p]:
                    cap += 1
        irec, frec, ntr = simulate(
            op,
            hi,
            lo,
            valid,
            el,
            xl,
            es,
            es,
            scale,
            limit,
            tick,
            last_idx,
            end_t,
            stoplosses[k],
            False,
            np.nan,
            0.0,
            False,
            empty_f,
            empty_f,
            tf_min,
            stake,
            0.0,
            wallet,
            -1,
            fee,
            fee,
            0.0,
            cap,
        )
        out[k] = trade_stats(irec, frec, ntr, wallet, days)
    return out


class BatchEvaluator:
    """Prepared arrays of one dataset, evaluating parameter sets of ema_rsi_cross."""

    def __init__(
        self, candles: dict[str, Any], *, stake: float, fee: float, wallet: float, jobs: int = 0
    ) -> None:
        import os

        self.jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
        from engine.backtest.runner import make_grid, monthly_tick_decimals

        tfs = {c.timeframe for c in candles.values()}
        timeframe = tfs.pop()
        self.grid = g = make_grid(candles, timeframe)
        n_t, n_p = g.valid.shape
        self.vol = np.zeros((n_t, n_p))
        self.tick = np.full((n_t, n_p), -1, dtype=np.int64)
        for i, s in enumerate(g.pairs):
            a, b = int(g.offset[i]), int(g.offset[i] + g.length[i])
            self.vol[a:b, i] = candles[s].volume
            self.tick[a:b, i] = monthly_tick_decimals(candles[s])
        self.last_idx = (g.offset + g.length - 1).astype(np.int64)
        self.close_pt = np.ascontiguousarray(g.close.T)  # per-pair rows for the indicators
        starts = [int(c.open_time[0]) for c in candles.values()]
        ends = [int(c.open_time[-1]) for c in candles.values()]
        self.days = (max(ends) - min(starts)) // 86_400_000
        self.stake, self.fee, self.wallet = float(stake), float(fee), float(wallet)

    def evaluate(self, params: list[dict[str, Any]], default_stoploss: float) -> F64:
        """Stats rows (see STAT_NAMES) for each parameter dict."""
        g = self.grid

        def col(name: str, default: float, dtype: Any) -> npt.NDArray[Any]:
            return np.array([p.get(name, default) for p in params], dtype=dtype)

        cols = (
            col("fast", 12, np.int64),
            col("slow", 26, np.int64),
            col("rsi_period", 14, np.int64),
            col("rsi_max", 70.0, np.float64),
            col("stoploss", default_stoploss, np.float64),
        )

        def run(lo: int, hi: int) -> F64:
            return batch_ema_rsi(  # type: ignore[call-arg]
                g.open,
                g.high,
                g.low,
                self.close_pt,
                self.vol,
                g.valid,
                g.offset,
                g.length,
                self.tick,
                self.last_idx,
                g.n_times - 1,
                *(c[lo:hi] for c in cols),
                g.step_ms / 60000.0,
                self.stake,
                self.wallet,
                self.fee,
                int(self.days),
            )

        n = len(params)
        workers = max(1, min(self.jobs, n))
        if workers == 1:
            return run(0, n)
        from concurrent.futures import ThreadPoolExecutor

        edges = np.linspace(0, n, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, edges[:-1], edges[1:]))
        return np.vstack(parts)


def loss_of(stats: dict[str, float], loss: str, wallet: float) -> float | tuple[float, float]:
    profit = stats["profit_total_abs"] / wallet
    dd = stats["max_drawdown_account"]
    if loss == "sharpe":
        return -stats["sharpe"]
    if loss == "sortino":
        return -stats["sortino"]
    if loss == "calmar":
        return -stats["calmar"]
    if loss == "maxdrawdown":
        return dd - 1e-9 * profit
    if loss == "profitdrawdown":
        return -(profit - dd * profit * (1 - 0.075))
    return (profit, dd)


_SAMPLER_DEPS = {"gp": ("scipy", "torch"), "cmaes": ("cmaes",), "qmc": ("scipy",)}


def _sampler(name: str, seed: int | None, multi: bool) -> Any:
    import importlib.util
    import warnings

    import optuna

    missing = [m for m in _SAMPLER_DEPS.get(name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise HyperoptError(
            f"sampler {name} needs the package(s) {', '.join(missing)}: "
            f"pip install {' '.join(missing)}, or use --sampler tpe|nsga2"
        )
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        if name == "cmaes":
            if multi:
                raise HyperoptError(
                    "CMA-ES is single-objective: use --sampler nsga2 with --loss multi"
                )
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        if name == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    except ImportError as e:
        raise HyperoptError(f"sampler {name} needs an extra package: {e}") from None
    raise HyperoptError(f"unknown sampler {name!r}")


def distributions(strategy: Any, include_stoploss: bool = False) -> dict[str, Any]:
    """Optuna distributions of a strategy's optimisable parameters."""
    import optuna.distributions as od

    out: dict[str, Any] = {}
    for name, p in strategy.parameters().items():
        if not p.optimize:
            continue
        if p.kind == "int":
            out[name] = od.IntDistribution(p.low, p.high)
        elif p.kind == "decimal":
            out[name] = od.FloatDistribution(p.low, p.high, step=10.0**-p.decimals)
        else:
            out[name] = od.CategoricalDistribution(p.categories)
    if include_stoploss:
        out["stoploss"] = od.FloatDistribution(-0.35, -0.02, step=0.001)
    return out


def run_hyperopt(
    candles: dict[str, Any],
    strategy: str,
    *,
    epochs: int = 100,
    sampler: str = "tpe",
    loss: str = "sharpe",
    jobs: int = 0,
    batch: int = 64,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    stake: float = 1000.0,
    fee: float = 0.001,
    stoploss: float | None = None,
    wallet: float = 100_000.0,
    optimize_stoploss: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``epochs`` trials; returns best params, loss, metrics and throughput."""
    import optuna

    from engine.strategy import StrategyError, get_strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        strat = get_strategy(strategy)
    except StrategyError as e:
        raise HyperoptError(str(e)) from None
    multi = loss == "multi"
    dists = distributions(strat, include_stoploss=optimize_stoploss)
    if not dists:
        raise HyperoptError(f"strategy {strategy} has no optimisable parameters")
    directions: list[Literal["minimize", "maximize"]] = (
        ["maximize", "minimize"] if multi else ["minimize"]
    )
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            sampler=_sampler(sampler, seed, multi),
            directions=directions,
            load_if_exists=study_name is not None,
        )
    except HyperoptError:
        raise
    except Exception as e:
        raise HyperoptError(
            f"cannot open study (storage {storage!r}): {type(e).__name__}: {e}"
        ) from None
    sl = float(strat.stoploss) if stoploss is None else float(stoploss)
    batched = strategy == "ema_rsi_cross"
    evaluator = (
        BatchEvaluator(candles, stake=stake, fee=fee, wallet=wallet, jobs=jobs) if batched else None
    )

    def evaluate(params: list[dict[str, Any]]) -> list[dict[str, float]]:
        if evaluator is not None:
            rows = evaluator.evaluate(params, sl)
            return [dict(zip(STAT_NAMES, map(float, r), strict=True)) for r in rows]
        return [_single_stats(candles, strategy, p, stake, fee, sl, wallet) for p in params]

    from concurrent.futures import Future, ThreadPoolExecutor

    # Pipelined: while the numba kernels (GIL-free) evaluate batch k, this thread asks
    # Optuna for batch k+1; batch k is told before k+2 is asked.
    t0 = time.perf_counter()
    asked = done = 0
    pending: tuple[list[Any], Future[list[dict[str, float]]]] | None = None
    with ThreadPoolExecutor(1) as pool:
        while asked < epochs or pending is not None:
            nxt = None
            if asked < epochs:
                n = min(batch, epochs - asked)
                trials = [study.ask(dists) for _ in range(n)]
                asked += n
                nxt = (trials, pool.submit(evaluate, [dict(t.params) for t in trials]))
            if pending is not None:
                p_trials, fut = pending
                for t, st in zip(p_trials, fut.result(), strict=True):
                    t.set_user_attr("metrics", st)
                    value = loss_of(st, loss, wallet)
                    study.tell(t, list(value) if isinstance(value, tuple) else value)
                done += len(p_trials)
                if on_progress is not None:
                    on_progress(done)
            pending = nxt
    seconds = time.perf_counter() - t0
    if multi:
        front = sorted(study.best_trials, key=lambda t: -t.values[0])
        best = front[0]
        best_loss = float(best.values[0])
    else:
        best = study.best_trial
        best_loss = float(best.value if best.value is not None else "nan")
    return {
        "study": study.study_name,
        "trials": done,
        "seconds": seconds,
        "evaluations_per_s": done / seconds if seconds > 0 else 0.0,
        "batched": batched,
        "best": {"params": best.params, "loss": best_loss, "metrics": best.user_attrs["metrics"]},
    }


def _single_stats(
    candles: dict[str, Any],
    strategy: str,
    params: dict[str, Any],
    stake: float,
    fee: float,
    stoploss: float,
    wallet: float,
) -> dict[str, float]:
    from engine.backtest.runner import run_backtest

    sl = params.pop("stoploss", stoploss)
    r = run_backtest(
        candles, strategy, params=params, stake=stake, fee=fee, stoploss=sl, wallet=wallet
    )
    return {k: float(r.metrics[k]) for k in STAT_NAMES}
