"""``sentitrade bench indicators``: our kernels against TA-Lib, measured in the same run.

Timing: each kernel and its TA-Lib twin run once to warm up, then the median of ``REPS``
(>= 7) repetitions is taken, interleaved so machine noise hits both alike. Sizes: ``n``
(default 1M), 10,000 and 100 candles (the last shows per-call overhead). Compile time is
measured in fresh subprocesses: cold (empty numba cache dir) and cached (second run).
Module-level imports stay light; TA-Lib, rich and matplotlib load inside the functions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer

REPS = 9
NINE = ("ema", "sma", "rsi", "macd", "bbands", "atr", "stoch", "obv", "stddev")

_COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
import engine.indicators as ind
from engine.indicators.bench import _cases
x = np.linspace(1.0, 2.0, 64)
for name, ours, _ in _cases(x + 0.1, x - 0.1, x, x + 1.0):
    ours()
print(time.perf_counter() - t0)
"""


def _cases(h: np.ndarray, lo: np.ndarray, c: np.ndarray, vol: np.ndarray) -> list[
    tuple[str, Callable[[], Any], Callable[[], Any] | None]
]:
    """(name, ours, TA-Lib or None) for every indicator, with common parameters."""
    import engine.indicators as ind

    t: Any
    try:
        import talib as t
    except ImportError:  # pragma: no cover - TA-Lib is a dev dependency
        t = None
    rows: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
        ("ema", lambda: ind.ema(c, 20), lambda: t.EMA(c, 20)),
        ("sma", lambda: ind.sma(c, 20), lambda: t.SMA(c, 20)),
        ("rsi", lambda: ind.rsi(c, 14), lambda: t.RSI(c, 14)),
        ("macd", lambda: ind.macd(c, 12, 26, 9), lambda: t.MACD(c, 12, 26, 9)),
        ("bbands", lambda: ind.bbands(c, 20, 2.0, 2.0), lambda: t.BBANDS(c, 20, 2.0, 2.0)),
        ("atr", lambda: ind.atr(h, lo, c, 14), lambda: t.ATR(h, lo, c, 14)),
        ("stoch", lambda: ind.stoch(h, lo, c, 14, 3, 3),
         lambda: t.STOCH(h, lo, c, 14, 3, 0, 3, 0)),
        ("obv", lambda: ind.obv(c, vol), lambda: t.OBV(c, vol)),
        ("stddev", lambda: ind.stddev(c, 20), lambda: t.STDDEV(c, 20)),
        ("natr", lambda: ind.natr(h, lo, c, 14), lambda: t.NATR(h, lo, c, 14)),
        ("trange", lambda: ind.trange(h, lo, c), lambda: t.TRANGE(h, lo, c)),
        ("stochf", lambda: ind.stochf(h, lo, c, 14, 3), lambda: t.STOCHF(h, lo, c, 14, 3, 0)),
        ("donchian", lambda: ind.donchian(h, lo, 20),
         lambda: (t.MAX(h, 20), t.MIN(lo, 20))),
        ("keltner", lambda: ind.keltner(h, lo, c, 20, 10, 2.0), None),
    ]
    extra = getattr(ind, "_BENCH_EXTRA", None)
    if extra is not None:
        rows.extend(extra(h, lo, c, vol, t))
    if t is None:
        rows = [(n, o, None) for n, o, _ in rows]
    return rows


def _data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real BTC/USDT 5m candles tiled to ``n`` when the shared data is present, else a
    seeded random walk (same shape of work)."""
    rng = np.random.default_rng(42)
    c = 30_000 + np.cumsum(rng.standard_normal(n)) * 20
    h = c + rng.uniform(0, 30, n)
    lo = c - rng.uniform(0, 30, n)
    vol = rng.uniform(0.1, 50, n)
    return h, lo, c, vol


def _median_ms(fn: Callable[[], Any], reps: int) -> float:
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def _time_pair(ours: Callable[[], Any], ref: Callable[[], Any] | None, reps: int,
               inner: int) -> tuple[float, float | None]:
    def loop(f: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(inner):
                f()
        return run

    ours_l = loop(ours)
    ours_l()
    ref_l = loop(ref) if ref is not None else None
    if ref_l is not None:
        ref_l()
    a: list[float] = []
    b: list[float] = []
    for _ in range(reps):
        a.append(_median_ms(ours_l, 1) / inner)
        if ref_l is not None:
            b.append(_median_ms(ref_l, 1) / inner)
    return statistics.median(a), (statistics.median(b) if b else None)


def _compile_times() -> dict[str, float]:
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache,
                   PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        out = {}
        for label in ("cold_s", "cached_s"):
            res = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env,
                                 capture_output=True, text=True, check=True, cwd=root)
            out[label] = float(res.stdout.strip().splitlines()[-1])
    return out


def bench_indicators(n: int = 1_000_000, json_out: bool = False,
                     png: Path | None = None) -> dict[str, Any]:
    """Time every kernel against TA-Lib at ``n``, 10,000 and 100 candles; return figures."""
    sizes = [n, 10_000, 100]
    results: dict[str, Any] = {"reps": REPS, "sizes": {}}
    for size in sizes:
        h, lo, c, vol = _data(size)
        inner = 1 if size >= 100_000 else (20 if size >= 10_000 else 2000)
        rows = {}
        for name, ours, ref in _cases(h, lo, c, vol):
            o_ms, r_ms = _time_pair(ours, ref, REPS, inner)
            rows[name] = {"ours_ms": o_ms, "talib_ms": r_ms,
                          "ratio": (o_ms / r_ms) if r_ms else None}
        nine_o = float(sum(float(rows[k]["ours_ms"] or 0.0) for k in NINE))
        nine_t = float(sum(float(rows[k]["talib_ms"] or 0.0) for k in NINE))
        ratios = [r["ratio"] for r in rows.values() if r["ratio"] is not None]
        results["sizes"][str(size)] = {
            "kernels": rows, "nine_ours_ms": nine_o, "nine_talib_ms": nine_t,
            "nine_ratio": nine_o / nine_t if nine_t else None,
            "worst_ratio": max(ratios) if ratios else None,
        }
    results["compile"] = _compile_times()
    _print_table(results)
    if json_out:
        print(json.dumps(results, indent=2))
    if png is not None:
        _plot(results, str(n), png)
    return results


def _print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(stderr=True)
    for size, block in results["sizes"].items():
        tab = Table(title=f"indicators, {int(size):,} candles (median of {results['reps']})")
        for col in ("kernel", "ours ms", "TA-Lib ms", "ratio"):
            tab.add_column(col, justify="right" if col != "kernel" else "left")
        for name, r in block["kernels"].items():
            tab.add_row(name, f"{r['ours_ms']:.4f}",
                        "-" if r["talib_ms"] is None else f"{r['talib_ms']:.4f}",
                        "-" if r["ratio"] is None else f"{r['ratio']:.2f}x")
        tab.add_row("nine (sum)", f"{block['nine_ours_ms']:.4f}", f"{block['nine_talib_ms']:.4f}",
                    f"{block['nine_ratio']:.2f}x" if block["nine_ratio"] else "-")
        con.print(tab)
    comp = results["compile"]
    con.print(f"import + compile, whole library: cold {comp['cold_s']:.2f} s, "
              f"cached {comp['cached_s']:.2f} s")


def _plot(results: dict[str, Any], size: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["sizes"][size]["kernels"]
    names = [k for k, r in rows.items() if r["ratio"] is not None]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(names, [rows[k]["ratio"] for k in names], color="tab:blue")
    ax.axhline(1.0, color="red", linewidth=1, label="TA-Lib")
    ax.set_ylabel("time / TA-Lib time")
    ax.set_title(f"sentitrade indicators vs TA-Lib, {int(size):,} candles")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def cli(
    n: int = typer.Option(1_000_000, "--n", help="candles per series"),
    json_out: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    png: Path | None = typer.Option(None, "--png", help="write a bar chart here"),
) -> None:
    """Benchmark the indicator kernels against TA-Lib (same run, median of >= 7)."""
    bench_indicators(n=n, json_out=json_out, png=png)
