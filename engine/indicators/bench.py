"""``sentitrade bench indicators``: our kernels against TA-Lib (and pandas where there is an
idiomatic pandas way), measured in the same run.

Data: the shared BTC/USDT 5m candles (``shared/data/ohlcv/...``) tiled to ``n`` (each copy
rescaled to continue from the previous close), else a seeded random walk.

Timing: every kernel and its TA-Lib twin run once to warm up, then ``REPS`` (>= 7) rounds,
each timing both back to back in alternating order, so load on the machine hits both
alike; pandas is timed in rounds of its own (its frees would otherwise hand the page-fault
cost of fresh memory to whoever allocates next). Medians are reported; the ratio is
ours / TA-Lib. The default clock is
the calling thread's CPU time (every kernel here is single-threaded), which other
processes on a shared machine barely disturb; ``--clock wall`` uses ``perf_counter``.
Sizes: ``n`` (default 1M), 10,000 and 100 candles (per-call overhead).

Compile time is measured in fresh subprocesses with an empty numba cache (cold) and again
with it filled (cached): ``import engine.indicators`` plus the first call of each of the
nine headline kernels, and of every kernel; next to it numba's own floor, a module with a
single trivial cached kernel, on the same machine at the same moment.
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
DATA = Path("data/ohlcv/binance_spot_5m_2025/BTC_USDT-5m.feather")

Case = tuple[str, Callable[[], Any], Callable[[], Any] | None, Callable[[], Any] | None]

# what a user's process pays: interpreter already up with numpy, then our import and the
# first call of each kernel (no pandas, TA-Lib or CLI imports inside the timing)
_COMPILE_SNIPPET = """
import sys, time
import numpy as np
t1, c1 = time.perf_counter(), time.process_time()
import engine.indicators as ind
x = np.linspace(1.0, 2.0, 64)
o, h, lo, c, v = x + 0.05, x + 0.1, x - 0.1, x, x + 1.0
nine = [
    lambda: ind.ema(c, 20), lambda: ind.sma(c, 20), lambda: ind.rsi(c, 14),
    lambda: ind.macd(c), lambda: ind.bbands(c, 20), lambda: ind.atr(h, lo, c),
    lambda: ind.stoch(h, lo, c, 14, 3, 3), lambda: ind.obv(c, v), lambda: ind.stddev(c, 20),
]
rest = [
    lambda: ind.wma(c, 20), lambda: ind.smma(c), lambda: ind.dema(c, 9),
    lambda: ind.tema(c, 9), lambda: ind.kama(c), lambda: ind.hma(c),
    lambda: ind.vwma(c, v), lambda: ind.zlema(c), lambda: ind.stochrsi(c),
    lambda: ind.cci(h, lo, c), lambda: ind.willr(h, lo, c), lambda: ind.roc(c),
    lambda: ind.mom(c), lambda: ind.cmo(c), lambda: ind.natr(h, lo, c),
    lambda: ind.trange(h, lo, c), lambda: ind.keltner(h, lo, c),
    lambda: ind.donchian(h, lo), lambda: ind.mfi(h, lo, c, v), lambda: ind.vwap(h, lo, c, v),
    lambda: ind.vwap(h, lo, c, v, 20), lambda: ind.ad(h, lo, c, v),
    lambda: ind.adosc(h, lo, c, v), lambda: ind.cmf(h, lo, c, v), lambda: ind.stochf(h, lo, c),
    lambda: ind.trix(c, 9), lambda: ind.ppo(c), lambda: ind.ultosc(h, lo, c),
    lambda: ind.dmi(h, lo, c), lambda: ind.adx(h, lo, c), lambda: ind.linearreg(c),
    lambda: ind.var(c), lambda: ind.zscore(c), lambda: ind.supertrend(h, lo, c),
    lambda: ind.sar(h, lo), lambda: ind.ichimoku(h, lo, 3, 5, 7, 4),
    lambda: ind.cdlengulfing(o, h, lo, c), lambda: ind.cdldoji(o, h, lo, c),
    lambda: ind.cdlhammer(o, h, lo, c), lambda: ind.cdlshootingstar(o, h, lo, c),
    lambda: ind.cdlmorningstar(o, h, lo, c),
]
for f in nine + (rest if sys.argv[1] == "all" else []):
    f()
t2, c2 = time.perf_counter(), time.process_time()
print(t2 - t1, c2 - c1)
"""

_FLOOR_SNIPPET = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
import floor_kernel
floor_kernel.k(np.ones(8))
t2, c2 = time.perf_counter(), time.process_time()
print(t2 - t1, c2 - c1)
"""

_FLOOR_MODULE = """
from numba import njit
@njit(cache=True, nogil=True, error_model="numpy")
def k(x):
    return x * 2.0
"""


def _cases(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, vol: np.ndarray,
           talib: bool = True) -> list[Case]:
    """(name, ours, TA-Lib or None, pandas or None) for every kernel, common parameters.

    Where TA-Lib has no single function, its twin computes the same outputs from TA-Lib
    parts (Donchian: MAX, MIN and the midpoint; Keltner: EMA and ATR bands)."""
    import engine.indicators as ind

    t: Any = None
    if talib:
        try:
            import talib as t
        except ImportError:  # pragma: no cover - TA-Lib is a dev dependency
            t = None
    pds = _pandas_cases(o, h, lo, c, vol)
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
        ("wma", lambda: ind.wma(c, 20), lambda: t.WMA(c, 20)),
        ("smma", lambda: ind.smma(c, 14), None),
        ("dema", lambda: ind.dema(c, 20), lambda: t.DEMA(c, 20)),
        ("tema", lambda: ind.tema(c, 20), lambda: t.TEMA(c, 20)),
        ("kama", lambda: ind.kama(c, 30), lambda: t.KAMA(c, 30)),
        ("hma", lambda: ind.hma(c, 20), lambda: t.HMA(c, 20)),
        ("vwma", lambda: ind.vwma(c, vol, 20), lambda: t.VWMA(c, vol, 20)),
        ("zlema", lambda: ind.zlema(c, 20), lambda: t.ZLEMA(c, 20)),
        ("stochrsi", lambda: ind.stochrsi(c, 14, 5, 3), lambda: t.STOCHRSI(c, 14, 5, 3, 0)),
        ("cci", lambda: ind.cci(h, lo, c, 14), lambda: t.CCI(h, lo, c, 14)),
        ("willr", lambda: ind.willr(h, lo, c, 14), lambda: t.WILLR(h, lo, c, 14)),
        ("roc", lambda: ind.roc(c, 10), lambda: t.ROC(c, 10)),
        ("mom", lambda: ind.mom(c, 10), lambda: t.MOM(c, 10)),
        ("cmo", lambda: ind.cmo(c, 14), lambda: t.CMO(c, 14)),
        ("natr", lambda: ind.natr(h, lo, c, 14), lambda: t.NATR(h, lo, c, 14)),
        ("trange", lambda: ind.trange(h, lo, c), lambda: t.TRANGE(h, lo, c)),
        ("keltner", lambda: ind.keltner(h, lo, c, 20, 10, 2.0),
         lambda: _keltner_talib(t, h, lo, c)),
        ("donchian", lambda: ind.donchian(h, lo, 20), lambda: _donchian_talib(t, h, lo)),
        ("mfi", lambda: ind.mfi(h, lo, c, vol, 14), lambda: t.MFI(h, lo, c, vol, 14)),
        ("vwap", lambda: ind.vwap(h, lo, c, vol), lambda: t.VWAP(h, lo, c, vol)),
        ("ad", lambda: ind.ad(h, lo, c, vol), lambda: t.AD(h, lo, c, vol)),
        ("adosc", lambda: ind.adosc(h, lo, c, vol, 3, 10), lambda: t.ADOSC(h, lo, c, vol, 3, 10)),
        ("cmf", lambda: ind.cmf(h, lo, c, vol, 20), lambda: t.CMF(h, lo, c, vol, 20)),
        ("stochf", lambda: ind.stochf(h, lo, c, 14, 3), lambda: t.STOCHF(h, lo, c, 14, 3, 0)),
        ("trix", lambda: ind.trix(c, 30), lambda: t.TRIX(c, 30)),
        ("ppo", lambda: ind.ppo(c, 12, 26), lambda: t.PPO(c, 12, 26, 1)),
        ("ultosc", lambda: ind.ultosc(h, lo, c), lambda: t.ULTOSC(h, lo, c, 7, 14, 28)),
        ("adx", lambda: ind.adx(h, lo, c, 14), lambda: t.ADX(h, lo, c, 14)),
        ("plus_di", lambda: ind.plus_di(h, lo, c, 14), lambda: t.PLUS_DI(h, lo, c, 14)),
        ("dx", lambda: ind.dx(h, lo, c, 14), lambda: t.DX(h, lo, c, 14)),
        ("linearreg", lambda: ind.linearreg(c, 14), lambda: t.LINEARREG(c, 14)),
        ("linearreg_slope", lambda: ind.linearreg_slope(c, 14),
         lambda: t.LINEARREG_SLOPE(c, 14)),
        ("var", lambda: ind.var(c, 20), lambda: t.VAR(c, 20)),
        ("zscore", lambda: ind.zscore(c, 20), None),
        ("supertrend", lambda: ind.supertrend(h, lo, c, 10, 3.0),
         lambda: t.SUPERTREND(h, lo, c, 10, 3.0)),
        ("sar", lambda: ind.sar(h, lo), lambda: t.SAR(h, lo, 0.02, 0.2)),
        ("ichimoku", lambda: ind.ichimoku(h, lo), None),
        ("cdlengulfing", lambda: ind.cdlengulfing(o, h, lo, c),
         lambda: t.CDLENGULFING(o, h, lo, c)),
        ("cdldoji", lambda: ind.cdldoji(o, h, lo, c), lambda: t.CDLDOJI(o, h, lo, c)),
        ("cdlhammer", lambda: ind.cdlhammer(o, h, lo, c), lambda: t.CDLHAMMER(o, h, lo, c)),
        ("cdlshootingstar", lambda: ind.cdlshootingstar(o, h, lo, c),
         lambda: t.CDLSHOOTINGSTAR(o, h, lo, c)),
        ("cdlmorningstar", lambda: ind.cdlmorningstar(o, h, lo, c),
         lambda: t.CDLMORNINGSTAR(o, h, lo, c)),
    ]
    return [(name, ours, ref if t is not None else None, pds.get(name))
            for name, ours, ref in rows]


def _donchian_talib(t: Any, h: np.ndarray, lo: np.ndarray) -> tuple[Any, Any, Any]:
    up = t.MAX(h, 20)
    dn = t.MIN(lo, 20)
    return up, (up + dn) * 0.5, dn


def _keltner_talib(t: Any, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> tuple[Any, ...]:
    mid = t.EMA(c, 20)
    band = t.ATR(h, lo, c, 10) * 2.0
    return mid + band, mid, mid - band


def _pandas_cases(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                  vol: np.ndarray) -> dict[str, Callable[[], Any]]:
    """The idiomatic pandas line for what pandas does natively (rolling / ewm / cumsum);
    the Series are built once, outside the timing, as a pandas user would hold them."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return {}
    cs, hs, ls, vs = pd.Series(c), pd.Series(h), pd.Series(lo), pd.Series(vol)

    def tr() -> Any:
        pc = cs.shift()
        return pd.concat([hs - ls, (hs - pc).abs(), (ls - pc).abs()], axis=1).max(axis=1)

    def rsi() -> Any:
        d = cs.diff()
        up = d.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
        dn = (-d).clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
        return 100 * up / (up + dn)

    def macd() -> Any:
        m = cs.ewm(span=12, adjust=False).mean() - cs.ewm(span=26, adjust=False).mean()
        s = m.ewm(span=9, adjust=False).mean()
        return m, s, m - s

    def bbands() -> Any:
        r = cs.rolling(20)
        mid, sd = r.mean(), r.std(ddof=0)
        return mid + 2 * sd, mid, mid - 2 * sd

    def stoch() -> Any:
        hh, ll = hs.rolling(14).max(), ls.rolling(14).min()
        k = (100 * (cs - ll) / (hh - ll)).rolling(3).mean()
        return k, k.rolling(3).mean()

    def donchian() -> Any:
        up, dn = hs.rolling(20).max(), ls.rolling(20).min()
        return up, (up + dn) / 2, dn

    return {
        "ema": lambda: cs.ewm(span=20, adjust=False).mean(),
        "sma": lambda: cs.rolling(20).mean(),
        "rsi": rsi,
        "macd": macd,
        "bbands": bbands,
        "atr": lambda: tr().ewm(alpha=1 / 14, adjust=False).mean(),
        "stoch": stoch,
        "obv": lambda: (np.sign(cs.diff()).fillna(0) * vs).cumsum(),
        "stddev": lambda: cs.rolling(20).std(ddof=0),
        "smma": lambda: cs.ewm(alpha=1 / 14, adjust=False).mean(),
        "var": lambda: cs.rolling(20).var(ddof=0),
        "zscore": lambda: (cs - cs.rolling(20).mean()) / cs.rolling(20).std(ddof=0),
        "donchian": donchian,
        "willr": lambda: -100 * (hs.rolling(14).max() - cs)
        / (hs.rolling(14).max() - ls.rolling(14).min()),
        "vwma": lambda: (cs * vs).rolling(20).sum() / vs.rolling(20).sum(),
        "roc": lambda: cs.pct_change(10) * 100,
        "mom": lambda: cs.diff(10),
        "trange": tr,
        "vwap": lambda: ((hs + ls + cs) / 3 * vs).cumsum() / vs.cumsum(),
    }


def _data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Real BTC/USDT 5m candles tiled to ``n`` when the shared data is present (each copy
    rescaled so it continues from the previous copy's last close), else a seeded random
    walk of the same shape."""
    path = _find_data()
    if path is not None:
        import pandas as pd

        df = pd.read_feather(path)
        base = [df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close",
                                                           "volume")]
        m = base[0].shape[0]
        parts: list[list[np.ndarray]] = [[], [], [], [], []]
        scale = 1.0
        got = 0
        while got < n:
            take = min(m, n - got)
            for k in range(5):
                parts[k].append(base[k][:take] * (scale if k < 4 else 1.0))
            scale *= base[3][m - 1] / base[0][0]
            got += take
        o, h, lo, c, vol = (np.ascontiguousarray(np.concatenate(p)) for p in parts)
        return o, h, lo, c, vol, f"{path.name} tiled to {n:,}"
    rng = np.random.default_rng(42)
    c = 30_000 + np.cumsum(rng.standard_normal(n)) * 20
    o = c + rng.standard_normal(n) * 5
    h = np.maximum(o, c) + rng.uniform(0, 30, n)
    lo = np.minimum(o, c) - rng.uniform(0, 30, n)
    vol = rng.uniform(0.1, 50, n)
    return o, h, lo, c, vol, f"random walk, {n:,}"


def _find_data() -> Path | None:
    here = Path(__file__).resolve()
    for base in here.parents:
        for cand in (base / "shared" / DATA, base.parent / "shared" / DATA):
            if cand.is_file():
                return cand
    return None


def _clock(kind: str) -> Callable[[], float]:
    return time.thread_time if kind == "cpu" else time.perf_counter


def _time_row(fns: list[Callable[[], Any] | None], reps: int, inner: int,
              clock: Callable[[], float]) -> list[float | None]:
    """Median ms per call of each function; rounds interleave them, and the order rotates
    each round: the first allocation after another function freed big arrays pays the
    page faults for fresh memory, and that must not always land on the same side."""
    live = [(i, f) for i, f in enumerate(fns) if f is not None]
    if not live:
        return [None] * len(fns)
    for _, f in live:
        f()
    samples: dict[int, list[float]] = {i: [] for i, _ in live}
    for r in range(reps):
        for i, f in live[r % len(live):] + live[: r % len(live)]:
            t0 = clock()
            for _ in range(inner):
                f()
            samples[i].append((clock() - t0) / inner * 1e3)
    return [statistics.median(samples[i]) if i in samples else None for i in range(len(fns))]


def _subprocess_times(snippet: str, args: list[str], env: dict[str, str], cwd: Path,
                      runs: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", snippet, *args], env=env, cwd=cwd,
                             capture_output=True, text=True, check=True)
        wall, cpu = (float(v) for v in res.stdout.split())
        out.append((wall, cpu))
    return out


def _compile_times(runs: int = 5) -> dict[str, float]:
    """Cold and cached "import + first calls", in fresh interpreters (byte-code caching on,
    as in a deployment); cached figures are medians of ``runs``."""
    root = Path(__file__).resolve().parents[2]
    med = statistics.median
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as floor:
        Path(floor, "floor_kernel.py").write_text(_FLOOR_MODULE)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(NUMBA_CACHE_DIR=cache,
                   PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        cold_all = _subprocess_times(_COMPILE_SNIPPET, ["all"], env, root, 1)[0]
        _subprocess_times(_FLOOR_SNIPPET, [floor], env, root, 1)  # fills its cache
        nine: list[tuple[float, float]] = []
        every: list[tuple[float, float]] = []
        fl: list[tuple[float, float]] = []
        for _ in range(runs):  # interleaved, so the machine's load hits all three alike
            nine += _subprocess_times(_COMPILE_SNIPPET, ["nine"], env, root, 1)
            every += _subprocess_times(_COMPILE_SNIPPET, ["all"], env, root, 1)
            fl += _subprocess_times(_FLOOR_SNIPPET, [floor], env, root, 1)
    return {
        "cold_all_wall_s": cold_all[0], "cold_all_cpu_s": cold_all[1],
        "cached_nine_wall_s": med(w for w, _ in nine), "cached_nine_cpu_s": med(c for _, c in nine),
        "cached_all_wall_s": med(w for w, _ in every), "cached_all_cpu_s": med(c for _, c in every),
        "numba_floor_wall_s": med(w for w, _ in fl), "numba_floor_cpu_s": med(c for _, c in fl),
    }


def bench_indicators(n: int = 1_000_000, json_out: bool = False, png: Path | None = None,
                     clock: str = "cpu", compile_runs: int = 5) -> dict[str, Any]:
    """Time every kernel against TA-Lib (and pandas) at ``n``, 10,000 and 100 candles, plus
    the compile/import times; print a table (and JSON), optionally write a PNG."""
    tick = _clock(clock)
    results: dict[str, Any] = {"reps": REPS, "clock": clock, "sizes": {}}
    for size in (n, 10_000, 100):
        o, h, lo, c, vol, label = _data(size)
        inner = 1 if size >= 100_000 else (20 if size >= 10_000 else 2000)
        rows: dict[str, dict[str, Any]] = {}
        for name, ours, ref, pds in _cases(o, h, lo, c, vol):
            # ours and TA-Lib side by side; pandas (a heavier allocator) on its own
            o_ms, t_ms = _time_row([ours, ref], REPS, inner, tick)
            p_ms = _time_row([pds], REPS, inner, tick)[0]
            assert o_ms is not None
            rows[name] = {"ours_ms": o_ms, "talib_ms": t_ms, "pandas_ms": p_ms,
                          "ratio": (o_ms / t_ms) if t_ms else None,
                          "pandas_ratio": (p_ms / t_ms) if (p_ms and t_ms) else None}
        nine_o = float(sum(rows[k]["ours_ms"] for k in NINE))
        nine_t = float(sum(rows[k]["talib_ms"] or 0.0 for k in NINE))
        ratios = {k: r["ratio"] for k, r in rows.items() if r["ratio"] is not None}
        worst = max(ratios, key=lambda k: ratios[k]) if ratios else None
        results["sizes"][str(size)] = {
            "data": label, "kernels": rows, "nine_ours_ms": nine_o, "nine_talib_ms": nine_t,
            "nine_ratio": nine_o / nine_t if nine_t else None,
            "nine_worst": max(ratios[k] for k in NINE if k in ratios) if ratios else None,
            "worst_kernel": worst, "worst_ratio": ratios[worst] if worst else None,
        }
    results["compile"] = _compile_times(compile_runs)
    _print_table(results)
    if json_out:
        print(json.dumps(results, indent=2))
    if png is not None:
        _plot(results, str(n), png)
    return results


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(stderr=True)
    for block in results["sizes"].values():
        tab = Table(title=f"indicators, {block['data']} (median of {results['reps']}, "
                          f"{results['clock']} time)")
        for col in ("kernel", "ours ms", "TA-Lib ms", "ratio", "pandas ms", "pandas ratio"):
            tab.add_column(col, justify="right" if col != "kernel" else "left")
        for name, r in block["kernels"].items():
            tab.add_row(name, _fmt(r["ours_ms"], ".4f"), _fmt(r["talib_ms"], ".4f"),
                        _fmt(r["ratio"], ".2f") + ("x" if r["ratio"] else ""),
                        _fmt(r["pandas_ms"], ".4f"), _fmt(r["pandas_ratio"], ".2f"))
        tab.add_row("nine (sum)", f"{block['nine_ours_ms']:.4f}", f"{block['nine_talib_ms']:.4f}",
                    _fmt(block["nine_ratio"], ".2f") + "x", "", "")
        con.print(tab)
        con.print(f"worst kernel: {block['worst_kernel']} {block['worst_ratio']:.2f}x")
    cp = results["compile"]
    con.print(
        f"import + first call (CPU s / wall s): nine cached {cp['cached_nine_cpu_s']:.2f} / "
        f"{cp['cached_nine_wall_s']:.2f}, all cached {cp['cached_all_cpu_s']:.2f} / "
        f"{cp['cached_all_wall_s']:.2f}, all cold {cp['cold_all_cpu_s']:.1f} / "
        f"{cp['cold_all_wall_s']:.1f}; numba floor (one trivial cached kernel) "
        f"{cp['numba_floor_cpu_s']:.2f} / {cp['numba_floor_wall_s']:.2f}"
    )


def _plot(results: dict[str, Any], size: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["sizes"][size]["kernels"]
    names = [k for k, r in rows.items() if r["ratio"] is not None]
    fig, ax = plt.subplots(figsize=(14, 4.5))
    x = np.arange(len(names))
    ax.bar(x - 0.2, [rows[k]["ratio"] for k in names], 0.4, color="tab:blue", label="ours")
    ax.bar(x + 0.2, [rows[k]["pandas_ratio"] or 0.0 for k in names], 0.4, color="tab:orange",
           label="pandas")
    ax.axhline(1.0, color="red", linewidth=1, label="TA-Lib")
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=60, ha="right")
    ax.set_ylabel("time / TA-Lib time")
    ax.set_title(f"sentitrade indicators vs TA-Lib, {results['sizes'][size]['data']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def cli(
    n: int = typer.Option(1_000_000, "--n", help="candles per series"),
    json_out: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    png: Path | None = typer.Option(None, "--png", help="write a bar chart here"),
    clock: str = typer.Option("cpu", "--clock", help="cpu (thread CPU time) or wall"),
) -> None:
    """Benchmark the indicator kernels against TA-Lib and pandas (same run, medians)."""
    if clock not in ("cpu", "wall"):
        raise typer.BadParameter("clock must be cpu or wall")
    bench_indicators(n=n, json_out=json_out, png=png, clock=clock)
