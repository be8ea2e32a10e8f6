"""The rebalance backtest's report: ``summary.json``, ``legs.csv`` and ``report.png``
(portrait, phone-sized like the strategy report): headline, equity against
buy-and-hold with the rebalances marked, drawdown, and the weights over time."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.backtest.rebalance import RebalanceResult, run_rebalance


def _iso(ms: int) -> str:
    return str(np.datetime64(int(ms) // 1000, "s")) + "Z"


def summary(res: RebalanceResult) -> dict[str, Any]:
    m = dict(res.metrics)
    m["start"], m["end"] = _iso(m["start"]), _iso(m["end"])
    return {"strategy": "rebalance", "pairs": res.pairs, "config": res.config, "metrics": m}


def write_rebalance_report(res: RebalanceResult, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "legs": out / "legs.csv",
             "png": out / "report.png"}
    paths["summary"].write_text(json.dumps(summary(res), indent=2) + "\n")
    with paths["legs"].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "pair", "side", "amount", "price", "notional"])
        for leg in res.legs:
            w.writerow([_iso(leg["time"]), leg["pair"], leg["side"], f"{leg['amount']:.12g}",
                        f"{leg['price']:.12g}", f"{leg['notional']:.8f}"])
    paths["png"].write_bytes(render_rebalance_png(res))
    return paths


def render_rebalance_png(res: RebalanceResult, *, dpi: int = 100) -> bytes:
    """900 x 1600 px PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = res.metrics
    fig = Figure(figsize=(9, 16), dpi=dpi)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(4, 1, height_ratios=[0.9, 2.0, 1.1, 1.6], hspace=0.4, left=0.12,
                          right=0.96, top=0.975, bottom=0.045)
    base = 17
    t = res.times.astype("datetime64[ms]")
    ax0 = fig.add_subplot(gs[0])
    ax0.axis("off")
    prof = 100 * m["profit_total"]
    every, thr = res.config.get("every"), res.config.get("threshold")
    rule = " · ".join([*([f"every {every}"] if every else []),
                       *([f"drift {100 * thr:g} %"] if thr is not None else [])])
    ax0.text(0, 1.0, f"rebalance  ·  {len(res.pairs)} pairs  ·  {rule}",
             fontsize=base + 1, weight="bold", va="top", transform=ax0.transAxes)
    ax0.text(0, 0.70, f"{_iso(m['start'])[:10]} → {_iso(m['end'])[:10]}", fontsize=base - 2,
             color="#555", va="top", transform=ax0.transAxes)
    ax0.text(0, 0.42, f"{prof:+.2f} %", fontsize=base + 14, weight="bold",
             color="#1a7f37" if prof >= 0 else "#c62828", va="top", transform=ax0.transAxes)
    ax0.text(0.45, 0.42, f"rebalances {m['rebalances']}   legs {m['legs']}\n"
             f"max DD {100 * m['max_drawdown']:.1f} %   fees {m['fees']:.2f}\n"
             f"hold {100 * m['buy_and_hold_profit']:+.2f} % (DD "
             f"{100 * m['buy_and_hold_max_drawdown']:.1f} %)",
             fontsize=base - 2, va="top", linespacing=1.5, transform=ax0.transAxes)
    step = max(1, t.size // 3000)
    ax1 = fig.add_subplot(gs[1])
    ax1.plot(t[::step], res.equity[::step], color="#1565c0", lw=1.6, label="rebalanced")
    ax1.plot(t[::step], res.hold[::step], color="#ef6c00", lw=1.2, label="buy and hold")
    when = sorted({leg["time"] for leg in res.legs})[1:]
    if 0 < len(when) <= 80:  # more would hide the curve
        idx = np.searchsorted(res.times, np.array(when, dtype=np.int64))
        ax1.plot(t[idx], res.equity[idx], "v", color="#555", ms=3, label="rebalance")
    ax1.set_title("Equity", loc="left", fontsize=base, weight="bold")
    ax1.legend(fontsize=base - 5, loc="upper left")
    ax2 = fig.add_subplot(gs[2], sharex=ax1)
    dd = 1 - res.equity / np.maximum.accumulate(res.equity)
    ax2.fill_between(t[::step], -100 * dd[::step], 0, color="#e57373", alpha=0.7)
    ax2.set_title(f"Drawdown %  (max -{100 * m['max_drawdown']:.1f} %)", loc="left",
                  fontsize=base, weight="bold")
    ax3 = fig.add_subplot(gs[3], sharex=ax1)
    ax3.stackplot(t[::step], *(100 * res.weights[::step, j] for j in range(len(res.pairs))),
                  labels=res.pairs, alpha=0.85)
    ax3.set_ylim(0, 100)
    ax3.set_title("Weights %", loc="left", fontsize=base, weight="bold")
    ax3.legend(fontsize=base - 6, loc="lower left", ncol=min(5, len(res.pairs)))
    for ax in (ax1, ax2, ax3):
        ax.tick_params(labelsize=base - 4)
        ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``"BTC/USDT=0.4,ETH/USDT=0.6"`` -> weights; None/empty -> None (1/N)."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, val = part.partition("=")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--weights {text!r}: write PAIR=WEIGHT,... (BTC/USDT=0.5)")
    return out


def rebalance_cli(candles: dict[str, Any], *, weights: str | None, every: str | None,
                  threshold: float | None, min_trade: float, wallet: float, fee: float,
                  out: Path | None, json_out: bool) -> None:
    """`sentitrade backtest --strategy rebalance`: run, print, write the report."""
    from engine.cli_support import fail, print_json
    from engine.errors import SentitradeError

    try:
        res = run_rebalance(
            candles, weights=parse_weights(weights), wallet=wallet, fee=fee,
            min_trade=min_trade, every=None if every in (None, "", "none") else every,
            threshold=threshold)
    except (SentitradeError, ValueError) as e:
        fail(str(e))
    if out is not None:
        try:
            write_rebalance_report(res, out)
        except OSError as e:
            fail(f"cannot write report: {e}")
    doc = summary(res)
    if json_out:
        print_json({**doc, "legs": res.legs})
        return
    m = doc["metrics"]
    print(f"rebalance · {len(res.pairs)} pairs · {m['start'][:10]} → {m['end'][:10]} · "
          f"every {res.config['every'] or '-'} · drift {res.config['threshold'] or '-'} · "
          f"weights {', '.join(f'{k} {v:.3f}' for k, v in res.targets.items())}")
    print(f"profit {m['profit_total_abs']:.2f} ({100 * m['profit_total']:+.2f} %)  "
          f"max drawdown {100 * m['max_drawdown']:.2f} %  rebalances {m['rebalances']}  "
          f"legs {m['legs']}  fees {m['fees']:.2f}  turnover {m['turnover']:.2f}x")
    print(f"buy and hold (same first purchase): {100 * m['buy_and_hold_profit']:+.2f} %  "
          f"max drawdown {100 * m['buy_and_hold_max_drawdown']:.2f} %")
    if out is not None:
        print(f"report written to {out}/ (summary.json, legs.csv, report.png)")
