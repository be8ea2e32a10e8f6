"""`sentitrade bench engine`: the per-tick CPU cost and the service's memory.

1. One tick for 100 symbols x 3 timeframes: streaming indicator updates, sentiment
   lookup (point-in-time over 2,000 in-memory headlines), fusion and the pre-trade risk
   checks, timed with `time.process_time` (CPU, not wall). Target <= 20 ms.
   Reference timed in the same run: one batch EMA over the same 300 series' last
   candle window with the numba kernel, so the figure can be compared across machines.
2. RSS of a service holding 100 symbols x 5,000 candles with warmed streaming state and
   an Engine on a SQLite database (FinBERT off). Target <= 300 MB.
"""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

N_SYMBOLS, TIMEFRAMES, N_CANDLES = 100, ("5m", "15m", "1h"), 5_000


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _series(rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))


def bench_tick(ticks: int = 200) -> dict[str, float]:
    # imported here: `bot.cli` imports this module at start-up to register the command
    from engine.config import RiskSettings
    from engine.fusion import Bar, DbSentiment, Fusion, _Item
    from engine.risk import Intent, RiskContext, pre_trade

    rng = np.random.default_rng(7)
    symbols = [f"C{i:03d}/USDT" for i in range(N_SYMBOLS)]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    sent = DbSentiment(sessions=None)  # type: ignore[arg-type]
    items = sorted((_Item(t0 + timedelta(minutes=int(m)), float(rng.uniform(-1, 1)), "h",
                          frozenset({symbols[int(rng.integers(N_SYMBOLS))].split("/")[0]}),
                          False) for m in rng.integers(0, 60 * 24 * 3, 2_000)),
                   key=lambda i: i.ts)
    sent.load(items)
    fusion = Fusion()
    lim = RiskSettings()
    ctx = RiskContext(Decimal(10000), Decimal(10000), {}, 0, 0, None)
    paths = {(s, tf): _series(rng, ticks + 100) for s in symbols for tf in TIMEFRAMES}
    for k in range(100):  # warm-up: indicators past their NaN period
        for (s, tf), px in paths.items():
            p = float(px[k])
            fusion.on_bar("bench", Bar(s, tf, t0 + timedelta(minutes=5 * k), p, p, p, p, 1),
                          sent.at(s, t0), False)
    cpu: list[float] = []
    for k in range(100, 100 + ticks):
        ts = t0 + timedelta(minutes=5 * k)
        start = time.process_time()
        for (s, tf), px in paths.items():
            p = float(px[k])
            bar = Bar(s, tf, ts, p, p * 1.001, p * 0.999, p, 1.0)
            d = fusion.on_bar("bench", bar, sent.at(s, ts), False)
            pre_trade(Intent(s, "buy", "enter", Decimal("0.1"), Decimal(repr(p))), ctx, lim)
            del d
        cpu.append((time.process_time() - start) * 1000)
    from engine.indicators import ema

    window = np.stack([px[:200] for px in paths.values()])
    ema(window[0], 12)  # compile
    start = time.process_time()
    for _ in range(20):
        for row in window:
            ema(row, 12)
    ref = (time.process_time() - start) * 1000 / 20
    med = statistics.median(cpu)
    return {"tick_cpu_ms_median": round(med, 3), "tick_cpu_ms_p95": round(
        sorted(cpu)[int(len(cpu) * 0.95)], 3), "pairs": float(len(paths)),
        "target_ms": 20.0, "reference_batch_ema_300x200_ms": round(ref, 3),
        "ratio_to_reference": round(med / ref, 2) if ref > 0 else 0.0}


def bench_memory() -> dict[str, float]:
    from engine.candles import Candles
    from engine.clock import ManualClock
    from engine.config import Settings
    from engine.db import SessionFactory, make_engine
    from engine.fusion import Bar
    from engine.migrate import upgrade
    from engine.runner import Engine

    gc.collect()
    before = _rss_mb()
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        symbols = [f"C{i:03d}/USDT" for i in range(N_SYMBOLS)]
        settings = Settings(database={"url": url}, exchange={"mode": "replay"},
                            bots=[{"name": "bench", "symbols": symbols}])
        eng = Engine(settings, SessionFactory(make_engine(url)), clock=ManualClock())
        candles: dict[str, Candles] = {}
        step = 300_000
        for s in symbols:
            close = _series(rng, N_CANDLES)
            ot = np.arange(N_CANDLES, dtype=np.int64) * step + 1_700_000_000_000
            candles[s] = Candles(s, "5m", ot, close, close * 1.001, close * 0.999, close,
                                 np.ones(N_CANDLES))
        t0 = datetime(2025, 1, 1, tzinfo=UTC)
        for s, c in candles.items():  # warm streaming state on the last 500 candles
            for i in range(N_CANDLES - 500, N_CANDLES):
                p = float(c.close[i])
                eng.fusion.on_bar("bench", Bar(s, "5m", t0, p, p, p, p, 1),
                                  eng.sentiment.at(s, t0), False)
        gc.collect()
        rss = _rss_mb()
        eng.sessions.engine.dispose()
    return {"rss_mb": round(rss, 1), "rss_before_mb": round(before, 1),
            "candles": float(N_SYMBOLS * N_CANDLES), "target_mb": 300.0}


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"tick": bench_tick(), "memory": bench_memory()}
    out["pass"] = (out["tick"]["tick_cpu_ms_median"] <= 20.0
                   and out["memory"]["rss_mb"] <= 300.0)
    return out


try:
    import typer

    def cli(json_out: bool = typer.Option(False, "--json")) -> None:
        """One tick for 100 symbols x 3 timeframes (CPU) and the service's RSS."""
        res = run()
        if json_out:
            print(json.dumps(res))
            return
        t, m = res["tick"], res["memory"]
        print(f"tick (100 symbols x 3 timeframes: indicators + sentiment + fusion + risk): "
              f"median {t['tick_cpu_ms_median']:.2f} ms CPU, p95 {t['tick_cpu_ms_p95']:.2f} ms "
              f"(target <= 20 ms; {t['ratio_to_reference']}x a batch EMA of 300x200 = "
              f"{t['reference_batch_ema_300x200_ms']:.2f} ms)")
        print(f"service RSS with 100 x 5,000 candles: {m['rss_mb']:.0f} MB "
              f"(target <= 300 MB; {m['rss_before_mb']:.0f} MB before loading)")
        print("PASS" if res["pass"] else "FAIL")
except ImportError:  # pragma: no cover
    pass
