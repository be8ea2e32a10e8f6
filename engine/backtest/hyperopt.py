"""Hyperopt on Optuna with batched evaluation (`engine.backtest.batch`).

Optuna proposes parameter sets (ask), a whole batch is evaluated at once, then the losses
are reported (tell). Any strategy is batched: its frames (with the point-in-time news
columns) are built once and only its ``populate_*`` and the numba simulation run per set,
one GIL-free thread per core (``--jobs``); ``ema_rsi_cross`` has a kernel of its own that
recomputes even its indicators in numba. No process per trial, no pickling of candles.

Trust in the result: ``min_trades`` gives a set with fewer trades the worst loss (a
"best" set with 34 trades in 14 months is not a result), and ``oos_fraction`` keeps the
last part of the time span out of the search: the best set is chosen in-sample, then
backtested on the unseen part, and both are reported.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from engine.backtest.batch import (
    N_S,
    STAT_NAMES,
    BatchEvaluator,
    FrameEvaluator,
    SingleEvaluator,
    trade_stats,
    writes_inputs,
)
from engine.errors import SentitradeError
from engine.strategy.interface import Strategy, StrategyError

__all__ = ["N_S", "STAT_NAMES", "BatchEvaluator", "FrameEvaluator", "HyperoptError",
           "SingleEvaluator", "distributions", "loss_of", "run_hyperopt", "trade_stats"]

WORST = 1e9  # the loss of a set that breaks --min-trades (finite: every sampler takes it)
SUMMARY_KEYS = ("total_trades", "profit_total", "profit_total_abs", "max_drawdown_account",
                "sharpe", "sortino", "calmar", "winrate")


class HyperoptError(SentitradeError):
    """Hyperopt cannot run as asked (sampler missing, bad storage URL, bad space)."""


def loss_of(stats: dict[str, float], loss: str, wallet: float,
            min_trades: int = 0) -> float | tuple[float, float]:
    """The loss of one set's stats (lower is better); `WORST` below `min_trades`."""
    if stats["total_trades"] < min_trades:
        return (-WORST, WORST) if loss == "multi" else WORST
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
    strategy: str | Strategy,
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
    news: Mapping[str, Sequence[Any]] | None = None,
    news_delay_s: float = 0.0,
    agg: Any = None,
    min_trades: int = 0,
    oos_fraction: float = 0.0,
    strategy_path: Path | None = None,
    evaluator: str = "auto",
    study_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``epochs`` trials on the in-sample part of `candles`; returns the best params,
    loss and metrics, throughput, and (``oos_fraction`` > 0) in- and out-of-sample
    backtest summaries of the best set. `strategy` is a name or a configured instance
    (e.g. from `load_strategy`, so non-optimised values of its params file stay).
    `evaluator`: ``auto`` | ``frames`` | ``single`` (tests compare them)."""
    import optuna

    from engine.strategy import get_strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        strat = get_strategy(strategy, strategy_path) if isinstance(strategy, str) else strategy
    except StrategyError as e:
        raise HyperoptError(str(e)) from None
    if min_trades < 0:
        raise HyperoptError("min_trades cannot be negative")
    ins, oos = candles, None
    if oos_fraction:
        from engine.backtest.splits import out_of_sample

        try:
            ins, oos = out_of_sample(candles, oos_fraction)
        except ValueError as e:
            raise HyperoptError(f"out-of-sample fraction {oos_fraction}: {e}") from None
        if not ins or not oos:
            raise HyperoptError("the data is too short to split in- and out-of-sample")
    multi = loss == "multi"
    dists = distributions(strat, include_stoploss=optimize_stoploss)
    if not dists:
        raise HyperoptError(f"strategy {strat.name} has no optimisable parameters")
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
    if study_config is not None and "sentitrade" not in study.user_attrs:
        # what `sentitrade worker hyperopt` needs to join from another machine
        study.set_user_attr("sentitrade", study_config)
    sl = float(strat.stoploss) if stoploss is None else float(stoploss)
    bt = {"stake": stake, "fee": fee, "wallet": wallet, "news": news,
          "news_delay_s": news_delay_s, "agg": agg}
    ev = _evaluator(ins, strat, evaluator, jobs, bt)
    fallback: list[str] = []

    def evaluate(params: list[dict[str, Any]]) -> list[dict[str, float]]:
        nonlocal ev
        try:
            rows = ev.evaluate(params, sl)
        except StrategyError as e:
            if ev.kind != "frames" or not writes_inputs(e):
                raise
            fallback.append(f"batched evaluation off: {e}")
            ev = SingleEvaluator(ins, strat, **bt)
            rows = ev.evaluate(params, sl)
        return [dict(zip(STAT_NAMES, map(float, r), strict=True)) for r in rows]

    t0 = time.perf_counter()
    try:
        done = _optimise(study, dists, evaluate, epochs, batch, loss, wallet, min_trades,
                         on_progress)
    except StrategyError as e:
        raise HyperoptError(str(e)) from None
    seconds = time.perf_counter() - t0
    if multi:
        best = sorted(study.best_trials, key=lambda t: -t.values[0])[0]
        best_loss = float(best.values[0])
    else:
        best = study.best_trial
        best_loss = float(best.value if best.value is not None else "nan")
    metrics = best.user_attrs["metrics"]
    best_params = tidy(best.params, dists)
    out: dict[str, Any] = {
        "study": study.study_name,
        "strategy": strat.name,
        "trials": done,
        "seconds": seconds,
        "evaluations_per_s": done / seconds if seconds > 0 else 0.0,
        "batched": ev.kind != "single",
        "evaluator": ev.kind,
        "notes": fallback,
        "min_trades": min_trades,
        "best": {"params": best_params, "loss": best_loss, "metrics": metrics,
                 "qualified": metrics["total_trades"] >= min_trades},
    }
    if oos is not None:
        out["oos_fraction"] = oos_fraction
        out["in_sample"] = _summary(ins, strat, best_params, sl, bt)
        out["out_of_sample"] = _summary(oos, strat, best_params, sl, bt)
    return out


def tidy(params: Mapping[str, Any], dists: Mapping[str, Any]) -> dict[str, Any]:
    """Stepped floats rounded to their step (Optuna's ``0.9400000000000001`` -> 0.94), so
    what is evaluated is what is written to the params file."""
    out = dict(params)
    for k, v in out.items():
        step = getattr(dists.get(k), "step", None)
        if isinstance(v, float) and step:
            out[k] = round(v, max(0, -math.floor(math.log10(step) + 1e-9)))
    return out


def _evaluator(candles: dict[str, Any], strat: Strategy, which: str, jobs: int,
               bt: dict[str, Any]) -> Any:
    from engine.strategy.builtins import EmaRsiCross

    if which == "single" or strat.uses_orders():
        # limit orders / position adjustment run in the order-level backtest only
        return SingleEvaluator(candles, strat, **bt)
    kernel_ok = (type(strat) is EmaRsiCross and not strat.minimal_roi
                 and not strat.trailing_stop)
    if which == "auto" and kernel_ok:
        return BatchEvaluator(candles, stake=bt["stake"], fee=bt["fee"], wallet=bt["wallet"],
                              jobs=jobs)
    try:
        return FrameEvaluator(candles, strat, jobs=jobs, **bt)
    except ValueError as e:
        raise HyperoptError(str(e)) from None


def _optimise(study: Any, dists: dict[str, Any],
              evaluate: Callable[[list[dict[str, Any]]], list[dict[str, float]]],
              epochs: int, batch: int, loss: str, wallet: float, min_trades: int,
              on_progress: Callable[[int], None] | None) -> int:
    """Ask/evaluate/tell, pipelined: while batch k is evaluated (GIL-free kernels), this
    thread asks Optuna for batch k+1; batch k is told before k+2 is asked."""
    from concurrent.futures import Future, ThreadPoolExecutor

    asked = done = 0
    pending: tuple[list[Any], Future[list[dict[str, float]]]] | None = None
    with ThreadPoolExecutor(1) as pool:
        while asked < epochs or pending is not None:
            nxt = None
            if asked < epochs:
                n = min(batch, epochs - asked)
                trials = [study.ask(dists) for _ in range(n)]
                asked += n
                nxt = (trials, pool.submit(evaluate, [tidy(t.params, dists) for t in trials]))
            if pending is not None:
                p_trials, fut = pending
                for t, st in zip(p_trials, fut.result(), strict=True):
                    t.set_user_attr("metrics", st)
                    value = loss_of(st, loss, wallet, min_trades)
                    study.tell(t, list(value) if isinstance(value, tuple) else value)
                done += len(p_trials)
                if on_progress is not None:
                    on_progress(done)
            pending = nxt
    return done


def _summary(candles: dict[str, Any], strat: Strategy, params: dict[str, Any], sl: float,
             bt: dict[str, Any]) -> dict[str, Any]:
    """A full backtest of one parameter set on one window: what the report shows."""
    from engine.backtest.batch import with_params
    from engine.backtest.runner import run_backtest

    r = run_backtest(candles, with_params(strat, params, sl), **bt)
    m = r.metrics
    return {"start": m.get("backtest_start"), "end": m.get("backtest_end"),
            **{k: m[k] for k in SUMMARY_KEYS if k in m}}
