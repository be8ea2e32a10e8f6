"""`/chart PAIR [TIMEFRAME]`: the candles a bot is trading on, with its entries and exits
and the indicator lines its strategy asks to plot, as one PNG for the phone.

The candles and indicator values are the live runtime's own (the trailing window the
strategy was last evaluated on), so the picture shows exactly what the strategy saw.
A strategy names its lines Freqtrade's way: ``plot_config = {"main_plot": {"ema_fast":
{}, "ema_slow": {}}, "subplots": {"RSI": {"rsi": {}}}}``; without one, only candles and
trades are drawn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ChartData:
    pair: str
    timeframe: str
    bot: str
    strategy: str
    open_ms: npt.NDArray[np.int64]
    open: F64
    high: F64
    low: F64
    close: F64
    main: dict[str, F64]                 # overlay lines on the price panel
    subplots: dict[str, dict[str, F64]]  # panel title -> lines
    entries: list[tuple[datetime, float]]
    exits: list[tuple[datetime, float, bool]]  # (time, price, profitable)


def plot_lines(strategy: Any, frame: Any) -> tuple[dict[str, F64], dict[str, dict[str, F64]]]:
    """The strategy's ``plot_config`` resolved against the analysed frame (unknown
    columns are skipped: a typo must not break /chart)."""
    cfg = getattr(strategy, "plot_config", None) or {}
    n = frame.n if frame is not None else 0

    def col(name: str) -> F64 | None:
        if frame is None or name not in frame:
            return None
        a = np.asarray(frame[name])
        return a.astype(np.float64) if a.shape == (n,) and a.dtype.kind in "fiub" else None

    main = {k: v for k in (cfg.get("main_plot") or {}) if (v := col(k)) is not None}
    subs: dict[str, dict[str, F64]] = {}
    for title, lines in (cfg.get("subplots") or {}).items():
        got = {k: v for k in (lines or {}) if (v := col(k)) is not None}
        if got:
            subs[str(title)] = got
    return main, subs


def render_chart(d: ChartData, *, dpi: int = 100) -> bytes:
    """Candles (bodies and wicks), overlays, trade markers and subplots, one time axis."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = d.open_ms.astype("datetime64[ms]").astype(datetime)
    xs = mdates.date2num(x)
    panels = 1 + len(d.subplots)
    fig = Figure(figsize=(9, 4.5 + 1.6 * (panels - 1)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [3] + [1] * (panels - 1)})[:, 0]
    ax = axes[0]
    width = (xs[1] - xs[0]) * 0.7 if len(xs) > 1 else 0.002
    up = d.close >= d.open
    for mask, color in ((up, "#26a69a"), (~up, "#ef5350")):
        ax.vlines(xs[mask], d.low[mask], d.high[mask], color=color, linewidth=0.6)
        ax.bar(xs[mask], np.maximum(np.abs(d.close - d.open), 1e-12)[mask],
               bottom=np.minimum(d.open, d.close)[mask], width=width, color=color)
    for name, line in d.main.items():
        ax.plot(xs, line, linewidth=1.0, label=name)
    if d.entries:
        ax.scatter(mdates.date2num([t for t, _ in d.entries]), [p for _, p in d.entries],
                   marker="^", s=60, color="#1565c0", zorder=5, label="entry")
    for ok, color, label in ((True, "#2e7d32", "exit (win)"), (False, "#c62828", "exit (loss)")):
        pts = [(t, p) for t, p, w in d.exits if w == ok]
        if pts:
            ax.scatter(mdates.date2num([t for t, _ in pts]), [p for _, p in pts], marker="v",
                       s=60, color=color, zorder=5, label=label)
    ax.set_title(f"{d.pair} {d.timeframe} · bot {d.bot} ({d.strategy}) · "
                 f"{len(d.close)} candles", loc="left", fontsize=11)
    if d.main or d.entries or d.exits:
        ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.25)
    for sub_ax, (title, lines) in zip(axes[1:], d.subplots.items(), strict=True):
        for name, line in lines.items():
            sub_ax.plot(xs, line, linewidth=1.0, label=name)
        sub_ax.set_title(title, loc="left", fontsize=9)
        sub_ax.grid(alpha=0.25)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
