"""`sentitrade bench backtest`: speed figures as ratios against references timed here.

1. Simulation core: candles/s of `core.simulate` on ema_rsi_cross with stops and fees
   over the 598,921-candle Binance set, against a minimal numba one-pass loop (entry and
   exit at the next open, no stops, no fees, no wallet) timed in the same run. Medians.
2. The whole CLI run (`sentitrade backtest ... --out DIR`: load, indicators, simulate,
   report files) in a child process: CPU seconds (user + sys), median of runs, against
   Freqtrade's ~40 CPU-s for the same run; the trades are checked against Freqtrade's
   reference list.
3. Hyperopt of 1,000 ema_rsi_cross parameter sets on that set: wall seconds.
4. End to end (issue 11's figure): ``sentitrade backtest ... --json`` (no report), process
   start to exit, CPU seconds (user + sys), median of runs, interleaved with a reference
   process timed in the same run (``python -c "import numpy"``) so that a slower or busier
   machine shows in both; target <= 1.3 CPU-s. ``--e2e-only`` runs just this item.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli_support import JsonOpt, fail, print_json

FREQTRADE_CPU_S = 40.0
TARGET_CORE = 50e6


def _reference_loop() -> Any:
    from engine.backtest._benchref import reference_loop

    return reference_loop


def _median_time(fn: Any, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def bench_core(candles: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Time the core kernel alone on the arrays run_backtest builds."""
    import numpy as np

    import engine.backtest.core as core
    from engine.backtest.runner import run_backtest

    captured: dict[str, Any] = {}
    original = core.simulate

    def spy(*args: Any) -> Any:
        captured["args"] = args
        return original(*args)

    core.simulate = spy  # type: ignore[assignment]
    try:
        run_backtest(
            candles,
            "ema_rsi_cross",
            stake=1000.0,
            fee=0.001,
            stoploss=-0.10,
            wallet=100_000.0,
            compute_metrics=False,
        )
    finally:
        core.simulate = original
    a = captured["args"]
    n = int(np.asarray(a[3]).sum())
    original(*a)
    t_core = _median_time(lambda: original(*a), repeat)
    ref = _reference_loop()
    ref(a[0], a[3], a[4], a[5])
    t_ref = _median_time(lambda: ref(a[0], a[3], a[4], a[5]), repeat)
    return {
        "candles": n,
        "core_candles_per_s": n / t_core,
        "reference_candles_per_s": n / t_ref,
        "ratio_to_reference": t_ref / t_core,
        "target_candles_per_s": TARGET_CORE,
        "core_median_s": t_core,
        "reference_median_s": t_ref,
    }


def _trades_match(ours: Path, ref: Path) -> tuple[bool, str]:
    a = list(csv.DictReader(ours.open()))
    b = list(csv.DictReader(ref.open()))
    if len(a) != len(b):
        return False, f"{len(a)} trades vs {len(b)}"
    key = lambda r: (r["open_time"], r["pair"])  # noqa: E731
    ma = {key(r): r for r in a}
    for r in b:
        o = ma.get(key(r))
        if o is None or o["close_time"] != r["close_time"] or o["exit_reason"] != r["exit_reason"]:
            return False, f"differs at {key(r)}"
        for f in ("open_rate", "close_rate", "profit_ratio"):
            if abs(float(o[f]) - float(r[f])) > 1e-9:
                return False, f"{f} differs at {key(r)}"
    return True, f"{len(a)} identical trades"


def bench_cli(data: Path, ref_csv: Path, repeat: int) -> dict[str, Any]:
    """CPU seconds of the whole CLI run in a child process (median)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cpu: list[float] = []
    wall: list[float] = []
    match = (False, "not run")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rep"
        cmd = [
            sys.executable,
            "-m",
            "bot.cli",
            "backtest",
            "--data",
            str(data),
            "--timeframe",
            "5m",
            "--strategy",
            "ema_rsi_cross",
            "--stoploss",
            "-0.10",
            "--fee",
            "0.001",
            "--stake",
            "1000",
            "--wallet",
            "100000",
            "--out",
            str(out),
        ]
        for i in range(repeat + 1):  # the first run warms numba's cache and is not counted
            r0 = os.times()
            t = time.perf_counter()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            w = time.perf_counter() - t
            r1 = os.times()
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr else "CLI failed")
            if i:
                cpu.append(
                    (r1.children_user - r0.children_user)
                    + (r1.children_system - r0.children_system)
                )
                wall.append(w)
        match = _trades_match(out / "trades.csv", ref_csv)
        # the fixed cost of starting the app (interpreter + bot.cli imports), for context
        startup: list[float] = []
        for _ in range(repeat):
            r0 = os.times()
            subprocess.run(
                [sys.executable, "-m", "bot.cli", "--help"],
                env=env,
                capture_output=True,
                check=False,
            )
            r1 = os.times()
            startup.append(
                (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
            )
    c = statistics.median(cpu)
    return {
        "command": " ".join(cmd[1:]).replace(str(out), "DIR"),
        "cpu_s": c,
        "wall_s": statistics.median(wall),
        "freqtrade_cpu_s": FREQTRADE_CPU_S,
        "fraction_of_freqtrade": c / FREQTRADE_CPU_S,
        "speedup": FREQTRADE_CPU_S / c,
        "target_fraction": 1 / 20,
        "identical_trades": match[0],
        "trades_check": match[1],
        "startup_cpu_s": statistics.median(startup),
    }


TARGET_E2E_CPU_S = 1.3


def _child_cpu(cmd: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + sys) of one child process run to its end."""
    r0 = os.times()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, check=False)
    r1 = os.times()
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr else "CLI failed")
    return (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)


def bench_e2e(data: Path, repeat: int) -> dict[str, Any]:
    """`sentitrade backtest --json` end to end against `python -c "import numpy"`, both
    in child processes, interleaved; medians of `repeat` runs after one warm-up each."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env = {k: v for k, v in env.items() if not k.upper().startswith("SENTITRADE_")}
    cmd = [sys.executable, "-m", "bot.cli", "backtest", "--data", str(data),
           "--timeframe", "5m", "--strategy", "ema_rsi_cross", "--json"]
    ref = [sys.executable, "-c", "import numpy"]
    cpu: list[float] = []
    ref_cpu: list[float] = []
    for i in range(repeat + 1):  # the first pair warms numba's cache and the page cache
        c, r = _child_cpu(cmd, env), _child_cpu(ref, env)
        if i:
            cpu.append(c)
            ref_cpu.append(r)
    c, r = statistics.median(cpu), statistics.median(ref_cpu)
    return {
        "command": "sentitrade " + " ".join(cmd[3:]),
        "cpu_s": c,
        "runs_cpu_s": cpu,
        "reference": 'python -c "import numpy"',
        "reference_cpu_s": r,
        "ratio_to_reference": c / r,
        "target_cpu_s": TARGET_E2E_CPU_S,
        "freqtrade_cpu_s": FREQTRADE_CPU_S,
        "speedup": FREQTRADE_CPU_S / c,
    }


def bench_hyperopt(candles: dict[str, Any], sets: int) -> dict[str, Any]:
    from engine.backtest.hyperopt import run_hyperopt

    t = time.perf_counter()
    res = run_hyperopt(
        candles,
        "ema_rsi_cross",
        epochs=sets,
        batch=100,
        seed=42,
        stake=1000.0,
        fee=0.001,
        wallet=100_000.0,
    )
    wall = time.perf_counter() - t
    return {
        "sets": sets,
        "wall_s": wall,
        "sets_per_s": sets / wall,
        "target_wall_s": 60.0,
        "best_loss": res["best"]["loss"],
    }


def cli(
    json_out: JsonOpt = False,
    repeat: Annotated[int, typer.Option("--repeat", help="timed runs per item (median)")] = 5,
    cli_runs: Annotated[int, typer.Option("--cli-runs", help="timed CLI runs")] = 3,
    sets: Annotated[int, typer.Option("--sets", help="hyperopt parameter sets")] = 1000,
    skip_hyperopt: Annotated[bool, typer.Option("--skip-hyperopt")] = False,
    e2e_only: Annotated[bool, typer.Option(
        "--e2e-only", help="only the end-to-end `backtest --json` CPU-s (--cli-runs runs)")
    ] = False,
) -> None:
    """Backtester speed: core candles/s, whole CLI CPU-s, end-to-end `backtest --json`
    CPU-s against `python -c "import numpy"`, hyperopt wall (ratios printed)."""
    from engine.backtest._paths import shared_data
    from engine.data.candles import load_candles

    data = shared_data()
    binance = data / "ohlcv" / "binance_spot_5m_2025"
    ref_csv = data / "reference" / "freqtrade_ema_rsi_binance5m_sl10.csv"
    if not binance.is_dir() or not ref_csv.exists():
        fail(
            f"benchmark data not found: need {binance} and {ref_csv} "
            "(shared/ beside the repository)"
        )
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if not e2e_only:
        candles = load_candles(binance, None, "5m")
        out["core"] = bench_core(candles, repeat)
        out["cli"] = bench_cli(binance, ref_csv, cli_runs)
    out["e2e"] = bench_e2e(binance, cli_runs)
    if not skip_hyperopt and not e2e_only:
        out["hyperopt"] = bench_hyperopt(candles, sets)
    if json_out:
        print_json(out)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="sentitrade bench backtest (598,921 candles, 5 pairs)")
    for col in ("item", "value", "reference", "ratio", "target"):
        t.add_column(col)
    if "core" in out:
        c = out["core"]
        t.add_row(
            "core candles/s (stops, fees)",
            f"{c['core_candles_per_s'] / 1e6:.1f} M",
            f"{c['reference_candles_per_s'] / 1e6:.1f} M (minimal loop)",
            f"{c['ratio_to_reference']:.2f}x",
            ">= 50 M/s",
        )
        k = out["cli"]
        t.add_row(
            "whole CLI run, CPU-s",
            f"{k['cpu_s']:.2f} s",
            f"{FREQTRADE_CPU_S:.0f} s (Freqtrade)",
            f"1/{k['speedup']:.1f}",
            "<= 1/20",
        )
        t.add_row("  trades", k["trades_check"], "",
                  "ok" if k["identical_trades"] else "DIFFER", "identical")
    e = out["e2e"]
    t.add_row(
        "backtest --json end to end, CPU-s",
        f"{e['cpu_s']:.2f} s",
        f"{e['reference_cpu_s']:.2f} s (import numpy)",
        f"{e['ratio_to_reference']:.1f}x",
        f"<= {TARGET_E2E_CPU_S} s",
    )
    if "hyperopt" in out:
        h = out["hyperopt"]
        t.add_row(
            f"hyperopt {h['sets']} sets, wall",
            f"{h['wall_s']:.1f} s",
            "",
            f"{h['sets_per_s']:.0f} sets/s",
            "< 60 s",
        )
    Console().print(t)
