"""Backtest report: ``summary.json``, ``trades.csv`` (the reference files' columns) and
``report.png``, a portrait chart sized for a phone screen (the chat's /backtest sends it).

The PNG is drawn with matplotlib's object API on the Agg canvas (no pyplot state, safe in
threads): headline numbers, price of the most traded pair (the title says so) with its
latest entries and exits, equity against buy-and-hold, drawdown (these three panels share
one time axis) and monthly returns, with large fonts and few ticks.

Every profit here (headline, equity, drawdown, monthly returns, the tables and
summary.json's metrics) is each trade's realised profit INCLUDING partial exits
(`Trades.realised`); Freqtrade's ``profit_abs``, which keeps only the last exit's profit
of a trade that sold part of its position earlier, stays in trades.csv for parity with
Freqtrade's lists, with ``realized_profit`` as a trailing column, and the screen prints
one line when the two totals differ. The stakes of the run were sized by a wallet that
books the same realised profit (`engine.backtest.orders`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine.backtest.metrics import sharpe_text
from engine.backtest.trades import EXPORT_COLUMNS

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult

F64 = npt.NDArray[np.float64]
MAX_MARKED_TRADES = 120


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def summary_dict(result: BacktestResult) -> dict[str, Any]:
    """What summary.json holds: run description, metrics, timings (no trade list)."""
    return {
        "strategy": result.strategy,
        "timeframe": result.timeframe,
        "pairs": result.pairs,
        "candles": result.candles,
        "config": result.config,
        "metrics": result.metrics,
        "breakdown": result.breakdown,
        "timings": result.timings,
    }


def write_trades_csv(result: BacktestResult, path: Path) -> Path:
    """Trades in the reference CSV layout (floats in Python's shortest repr) plus a
    trailing ``realized_profit`` column (profit including partial exits); futures runs
    add leverage, liquidation_price, funding_fees and is_short after those."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = result.trades.rows()
    cols = [*EXPORT_COLUMNS, *(k for k in (rows[0] if rows else {}) if k not in EXPORT_COLUMNS)]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([r[c] for c in cols])
    return path


def write_report(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """Write summary.json, trades.csv and report.png into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out_dir / "summary.json",
        "trades": out_dir / "trades.csv",
        "png": out_dir / "report.png",
    }
    paths["png"].write_bytes(render_report_png(result))
    write_trades_csv(result, paths["trades"])
    paths["summary"].write_text(
        json.dumps(summary_dict(result), indent=2, default=_json_default, allow_nan=True)
    )
    return paths


def _dt(ms: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    return np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")


def _decimate(
    t: npt.NDArray[np.int64], y: F64, points: int = 1500
) -> tuple[npt.NDArray[np.int64], F64]:
    """Min/max per bucket so a 100k-candle line stays a faithful 3k-point line."""
    n = y.shape[0]
    if n <= 2 * points:
        return t, y
    edges = np.linspace(0, n, points + 1).astype(np.int64)
    mn = np.minimum.reduceat(y, edges[:-1])
    mx = np.maximum.reduceat(y, edges[:-1])
    tt = np.repeat(t[edges[:-1]], 2)
    yy = np.empty(2 * points)
    yy[0::2], yy[1::2] = mn, mx
    return tt, yy


def _main_pair(result: BacktestResult) -> str:
    tr = result.trades
    if len(tr) == 0:
        return result.pairs[0]
    names, counts = np.unique(tr.pair, return_counts=True)
    return str(names[int(np.argmax(counts))])


def _equity(result: BacktestResult) -> tuple[npt.NDArray[np.int64], F64]:
    tr = result.trades
    starts = [int(c.open_time[0]) for c in result.data.values()] or [0]
    ends = [int(c.open_time[-1]) for c in result.data.values()] or [0]
    order = np.argsort(tr.close_ms, kind="stable")
    t = np.r_[min(starts), tr.close_ms[order], max(ends)].astype(np.int64)
    eq = result.wallet + np.r_[0.0, np.cumsum(tr.realised()[order])]
    eq = np.r_[eq, eq[-1]]
    return t, eq


def _monthly(t: npt.NDArray[np.int64], eq: F64) -> tuple[list[str], F64]:
    months = _dt(t).astype("datetime64[M]")
    uniq = np.unique(months)
    labels, rets = [], []
    prev = eq[0]
    for m in uniq:
        last = eq[np.flatnonzero(months == m)[-1]]
        rets.append((last / prev - 1.0) * 100.0 if prev else 0.0)
        labels.append(str(m)[2:].replace("-", "/"))
        prev = last
    return labels, np.array(rets)


def headline_lines(m: dict[str, Any]) -> list[str]:
    """The PNG's headline figures (its Sharpe line is `sharpe_text`, as in the chat's
    text and the CLI's table)."""
    return [
        f"trades {m.get('total_trades', 0)}   win {100 * float(m.get('winrate', 0)):.0f} %",
        f"max DD {100 * float(m.get('max_drawdown_account', 0)):.1f} %   "
        f"PF {float(m.get('profit_factor', 0)):.2f}   "
        f"CAGR {100 * float(m.get('cagr', 0)):.1f} %",
        sharpe_text(m),
    ]


def render_report_png(result: BacktestResult, *, dpi: int = 100) -> bytes:
    """The report chart as PNG bytes (900 x 1600 px portrait)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = result.metrics
    fig = Figure(figsize=(9, 16), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.set_facecolor("white")
    gs = fig.add_gridspec(
        5,
        1,
        height_ratios=[0.95, 2.2, 1.6, 1.0, 1.3],
        hspace=0.42,
        left=0.12,
        right=0.96,
        top=0.975,
        bottom=0.045,
    )
    base = 17

    # headline
    ax0 = fig.add_subplot(gs[0])
    ax0.axis("off")
    prof = float(m.get("profit_total", 0.0)) * 100
    color = "#1a7f37" if prof >= 0 else "#c62828"
    ax0.text(
        0.0,
        1.0,
        f"{result.strategy}  ·  {result.timeframe}  ·  {len(result.pairs)} pair"
        f"{'s' if len(result.pairs) != 1 else ''}",
        fontsize=base + 3,
        weight="bold",
        va="top",
        transform=ax0.transAxes,
    )
    ax0.text(
        0.0,
        0.70,
        f"{m.get('backtest_start', '')[:10]} → {m.get('backtest_end', '')[:10]}",
        fontsize=base - 2,
        color="#555",
        va="top",
        transform=ax0.transAxes,
    )
    ax0.text(
        0.0,
        0.42,
        f"{prof:+.2f} %",
        fontsize=base + 14,
        weight="bold",
        color=color,
        va="top",
        transform=ax0.transAxes,
    )
    lines = headline_lines(m)
    for i, line in enumerate(lines):
        ax0.text(0.43, 0.46 - i * 0.18, line, fontsize=base - 1, va="top", transform=ax0.transAxes)

    def style(ax: Any, title: str) -> None:
        ax.set_title(title, fontsize=base, loc="left", weight="bold")
        ax.tick_params(labelsize=base - 4)
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    date_fmt = mdates.ConciseDateFormatter(mdates.AutoDateLocator(maxticks=5))

    # price with entries/exits (most recent trades of the busiest pair)
    ax1 = fig.add_subplot(gs[1])
    pair = _main_pair(result)
    c = result.data.get(pair)
    tr = result.trades
    n_pair = int((tr.pair == pair).sum())
    sel = np.flatnonzero(tr.pair == pair)[-MAX_MARKED_TRADES:]
    if c is not None and len(c):
        # the whole run, so the price shares its time axis with equity and drawdown
        tt, yy = _decimate(c.open_time, c.close)
        ax1.plot(_dt(tt), yy, color="#37474f", lw=1.2)
        if sel.size:
            win = tr.realised()[sel] > 0
            ax1.scatter(
                _dt(tr.open_ms[sel]),
                tr.open_rate[sel],
                marker="^",
                s=70,
                color="#1565c0",
                label="entry" if sel.size == n_pair else f"entry (last {sel.size})",
                zorder=3,
            )
            ax1.scatter(
                _dt(tr.close_ms[sel][win]),
                tr.close_rate[sel][win],
                marker="v",
                s=70,
                color="#2e7d32",
                label="exit (win)",
                zorder=3,
            )
            ax1.scatter(
                _dt(tr.close_ms[sel][~win]),
                tr.close_rate[sel][~win],
                marker="v",
                s=70,
                color="#c62828",
                label="exit (loss)",
                zorder=3,
            )
            ax1.legend(fontsize=base - 5, loc="best", framealpha=0.8)
    why = (f"most traded, {n_pair} of {len(tr)}" if len(result.pairs) > 1
           else f"{n_pair} trades")
    style(ax1, f"{pair}  ({why})")
    ax1.xaxis.set_major_formatter(date_fmt)
    ax1.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=5))

    # equity and drawdown
    t, eq = _equity(result)
    ax2 = fig.add_subplot(gs[2], sharex=ax1)
    ax2.step(_dt(t), eq, where="post", color="#1565c0", lw=2, label="strategy")
    if result.data:
        from engine.backtest.breakdown import buy_and_hold

        bt = np.linspace(int(t[0]), int(t[-1]), 1500).astype(np.int64)
        ax2.plot(_dt(bt), buy_and_hold(result, bt), color="#ef6c00", lw=1.2,
                 label="buy and hold (pairs equally)")
        ax2.legend(fontsize=base - 5, loc="best", framealpha=0.8)
    ax2.axhline(result.wallet, color="#999", lw=1, ls="--")
    style(ax2, "Equity (realised)")
    ax2.xaxis.set_major_formatter(date_fmt)
    ax2.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=5))
    if result.wallet >= 10_000:  # 100k not 100000; small (BTC) wallets keep plain numbers
        ax2.yaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))

    ax3 = fig.add_subplot(gs[3], sharex=ax1)
    peak = np.maximum.accumulate(eq)
    dd = (eq / peak - 1.0) * 100.0
    ax3.fill_between(_dt(t), dd, 0, step="post", color="#c62828", alpha=0.45)
    style(ax3, f"Drawdown %  (max {dd.min():.1f} %)")

    # monthly returns
    ax4 = fig.add_subplot(gs[4])
    labels, rets = _monthly(t, eq)
    if len(labels) > 18:
        labels, rets = labels[-18:], rets[-18:]
    x = np.arange(len(labels))
    ax4.bar(
        x, rets, width=0.8 if len(x) > 2 else 0.3, color=np.where(rets >= 0, "#2e7d32", "#c62828")
    )
    step = max(1, math.ceil(len(labels) / 9))
    ax4.set_xticks(x[::step], [labels[i] for i in range(0, len(labels), step)])
    ax4.set_xlim(-0.75, max(len(x), 4) - 0.25)  # a lone month stays a bar, not a wall
    ax4.axhline(0, color="#333", lw=0.8)
    style(ax4, "Monthly return %")

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
