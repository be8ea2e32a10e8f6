"""Many backtests at once: strategies x pairs over a process pool that uses every core.

``sentitrade backtest --strategies a,b,c [--each-pair] --jobs N``: one backtest per
strategy (on all the pairs together: one wallet, as a single run) or, with
``--each-pair``, per (strategy, pair). The runs are independent, so each goes to its
own process (the numba kernels release the GIL, but a strategy's ``populate_*`` in
Python does not: processes, not threads, are what use every core). Each worker loads
its candles and strategy itself (a user strategy class need not pickle) and sends back
the result without its candles. Results come back in the order of the jobs, whatever
finishes first, and are exactly the serial runs' (the same function on the same
inputs; a test compares them).

The pool forks this process when that is safe (no other thread, numba's threading
layer not started: the CLI's case), so the workers start with the backtester already
imported; otherwise it is a ``forkserver`` pool with the backtester preloaded (forking a
process that holds numba's threads can deadlock; a bare ``spawn`` re-imports numpy and
numba in every worker).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.backtest.runner import BacktestResult


@dataclass(frozen=True, slots=True)
class Job:
    strategy: str
    pairs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Common:
    """What every job of one command shares."""

    data: Path
    timeframe: str = "5m"
    start_ms: int | None = None
    end_ms: int | None = None
    strategy_path: Path | None = None
    stoploss: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # run_backtest keywords


def plan(strategies: Sequence[str], pairs: Sequence[str], each_pair: bool) -> list[Job]:
    """The jobs, strategy-major: (a, p1), (a, p2), (b, p1)... or one per strategy."""
    if not strategies:
        raise ValueError("no strategy to run: --strategies a,b,c")
    if each_pair:
        return [Job(s, (p,)) for s in strategies for p in pairs]
    return [Job(s, tuple(pairs)) for s in strategies]


def run_job(common: Common, job: Job) -> BacktestResult:
    """One backtest, as `sentitrade backtest` runs it (module-level: workers call it)."""
    from engine.backtest.candlecheck import load_checked
    from engine.backtest.runner import run_backtest
    from engine.strategy import load_strategy

    candles, _ = load_checked(common.data, list(job.pairs), common.timeframe)
    if common.start_ms is not None or common.end_ms is not None:
        candles = {s: c.between(common.start_ms, common.end_ms) for s, c in candles.items()}
    loaded = load_strategy(job.strategy, common.strategy_path)
    if common.stoploss is not None:
        loaded.strategy.stoploss = float(common.stoploss)
    res = run_backtest(candles, loaded.strategy, **common.options)
    res.data = {}  # the candles stay here: the caller has the files
    return res


def _fork_safe() -> bool:
    """True while this process has no other thread: neither Python's nor numba's
    (its threading layer starts with the first ``parallel=True`` kernel call)."""
    import threading

    from numba.np.ufunc import parallel

    return threading.active_count() == 1 and not getattr(parallel, "_is_initialized", True)


def _pool(processes: int) -> ProcessPoolExecutor:
    if _fork_safe():  # the cheapest start: the workers inherit the loaded modules
        return ProcessPoolExecutor(max_workers=processes, mp_context=mp.get_context("fork"))
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["engine.backtest.runner", "engine.strategy"])
    return ProcessPoolExecutor(max_workers=processes, mp_context=ctx)


def run_many(common: Common, jobs: Iterable[Job], processes: int | None = None
             ) -> list[BacktestResult]:
    """Every job's result, in the jobs' order. `processes`: None = every core; 1 runs
    them one after another here (the reference the pool must equal)."""
    jobs = list(jobs)
    n = min(len(jobs), processes or os.cpu_count() or 1)
    if n <= 1:
        return [run_job(common, j) for j in jobs]
    with _pool(n) as pool:
        return list(pool.map(run_job, [common] * len(jobs), jobs))


def summary_rows(results: Sequence[BacktestResult]) -> list[dict[str, Any]]:
    """One line per run for the table and ``--json``."""
    out = []
    for r in results:
        m = r.metrics
        out.append({"strategy": r.strategy, "pairs": r.pairs, "trades": len(r.trades),
                    "profit_total": m.get("profit_total"),
                    "profit_total_abs": m.get("profit_total_abs"),
                    "max_drawdown": m.get("max_drawdown_account"),
                    "winrate": m.get("winrate"), "sharpe": m.get("sharpe")})
    return out


def cli(common: Common, strategies: Sequence[str], pairs: Sequence[str] | None, *,
        each_pair: bool, jobs: int | None, json_out: bool) -> None:
    """`sentitrade backtest --strategies a,b [--each-pair] [--jobs N]`: the table (or
    ``--json``: one document per run, as a single `backtest --json` prints it)."""
    import time

    from engine.backtest.candlecheck import load_checked
    from engine.cli_support import fail, print_json
    from engine.errors import SentitradeError

    t0 = time.perf_counter()
    try:
        if not pairs:  # every pair in the folder, as a single backtest takes them
            pairs = sorted(load_checked(common.data, None, common.timeframe)[0])
        todo = plan(strategies, pairs, each_pair)
        results = run_many(common, todo, jobs)
    except (SentitradeError, ValueError) as e:
        fail(str(e).splitlines()[0])
    seconds = time.perf_counter() - t0
    procs = min(len(todo), jobs or os.cpu_count() or 1)
    if json_out:
        print_json({"runs": [r.to_json() for r in results], "processes": procs,
                    "seconds": seconds})
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{len(todo)} backtests on {procs} processes in {seconds:.1f} s")
    for c in ("strategy", "pairs", "trades", "profit %", "max dd %", "winrate %"):
        t.add_column(c, justify="left" if c in ("strategy", "pairs") else "right")
    for row in summary_rows(results):
        t.add_row(row["strategy"], ",".join(row["pairs"]), str(row["trades"]),
                  f"{100 * (row['profit_total'] or 0):+.2f}",
                  f"{100 * (row['max_drawdown'] or 0):.2f}",
                  f"{100 * (row['winrate'] or 0):.1f}")
    Console().print(t)
