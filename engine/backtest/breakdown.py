"""The tables a trader acts on: results per pair, per exit reason and per entry tag; the
fees paid and their share of a loss; buy-and-hold over the same candles.

A losing run whose fees are about the size of the loss has no edge to fix in its exits:
it trades too often for its average move. These numbers say so on screen, in the
``--json`` document and in summary.json.

Profits are the realised ones including partial exits (`Trades.realised`); when a trade's
Freqtrade ``profit_abs`` left partial exits out, ``partial_exits`` holds both totals and
the screen prints `partial_exits_line`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult

F64 = npt.NDArray[np.float64]


def _rows(keys: npt.NDArray[Any], result: BacktestResult) -> list[dict[str, Any]]:
    tr = result.trades
    out: list[dict[str, Any]] = []
    if len(tr) == 0:
        return out
    dur_min = (tr.close_ms - tr.open_ms) / 60_000.0
    names, inverse = np.unique(keys.astype(str), return_inverse=True)
    for i, name in enumerate(names.tolist()):
        sel = inverse == i
        pa = tr.realised()[sel]
        out.append({
            "key": name,
            "trades": int(sel.sum()),
            "profit_mean_pct": round(100.0 * float(tr.profit_ratio[sel].mean()), 4),
            "profit_total_abs": round(float(pa.sum()), 8),
            "profit_total_pct": round(100.0 * float(pa.sum()) / result.wallet, 4),
            "wins": int((tr.profit_ratio[sel] > 0).sum()),  # as the metrics count them
            "draws": int((tr.profit_ratio[sel] == 0).sum()),
            "losses": int((tr.profit_ratio[sel] < 0).sum()),
            "duration_mean_min": round(float(dur_min[sel].mean()), 1),
        })
    out.sort(key=lambda r: r["profit_total_abs"], reverse=True)
    return out


def trade_fees(result: BacktestResult) -> F64:
    """Fees paid per trade: every order's value times its fee."""
    tr = result.trades
    if tr.fees is not None:
        return tr.fees
    fee = float(result.config.get("fee") or 0.0)
    maker = result.config.get("maker_fee")
    fee_close = np.where(tr.exit_reason == "roi", fee if maker is None else float(maker), fee)
    return tr.amount * tr.open_rate * fee + tr.amount * tr.close_rate * fee_close


def buy_and_hold(result: BacktestResult, t_ms: npt.NDArray[np.int64]) -> F64:
    """The wallet split equally over the pairs at their first close and held: its value
    at the times ``t_ms`` (each pair flat before its first and after its last candle)."""
    curves = []
    for c in result.data.values():
        if len(c) == 0 or not c.close[0] > 0:
            continue
        curves.append(np.interp(t_ms, c.open_time, c.close / c.close[0]))
    if not curves:
        return np.full(t_ms.shape, result.wallet)
    return result.wallet * np.mean(curves, axis=0)


def breakdown(result: BacktestResult) -> dict[str, Any]:
    """Per-pair, per-exit-reason and per-entry-tag tables, fees and buy-and-hold."""
    tr = result.trades
    fees = trade_fees(result)
    total_fees = float(fees.sum()) if len(tr) else 0.0
    profit = float(tr.realised().sum()) if len(tr) else 0.0
    partial = tr.partial_exit_mask() if len(tr) else np.zeros(0, dtype=np.bool_)
    tags = tr.enter_tag if tr.enter_tag is not None else np.full(len(tr), "")
    tags = np.where(tags == "", "(none)", tags)
    ends = [(int(c.open_time[0]), int(c.open_time[-1])) for c in result.data.values() if len(c)]
    hold = None
    if ends:
        span = np.array([min(a for a, _ in ends), max(b for _, b in ends)], dtype=np.int64)
        bh = buy_and_hold(result, span)
        hold = {"profit_total_abs": round(float(bh[-1] - result.wallet), 8),
                "profit_total_pct": round(100.0 * float(bh[-1] / result.wallet - 1.0), 4)}
    gross = profit + total_fees
    return {
        "per_pair": _rows(tr.pair, result),
        "per_exit_reason": _rows(tr.exit_reason, result),
        "per_entry_tag": _rows(tags, result),
        "fees": {
            "total": round(total_fees, 8),
            "pct_of_wallet": round(100.0 * total_fees / result.wallet, 4),
            "profit_before_fees": round(gross, 8),
            # how much of the loss the fees explain (None when the run made money)
            "share_of_loss": round(total_fees / -profit, 4) if profit < 0 else None,
        },
        "buy_and_hold": hold,
        # trades whose Freqtrade profit_abs leaves out their partial exits' profit
        "partial_exits": {
            "trades": int(partial.sum()),
            "profit_total_abs_freqtrade": round(float(tr.profit_abs.sum()), 8),
            "profit_total_abs": round(profit, 8),
        } if partial.any() else None,
    }


def print_breakdown(b: dict[str, Any], console: Any) -> None:
    """The tables and the fee line with rich (the CLI's screen output)."""
    from rich.table import Table

    for title, key in (("per pair", "per_pair"), ("per exit reason", "per_exit_reason"),
                       ("per entry tag", "per_entry_tag")):
        rows = b[key]
        if not rows:
            continue
        t = Table(title=title)
        for col in ("", "trades", "avg %", "total", "total %", "W/D/L", "avg min"):
            if col == "":
                t.add_column(col, no_wrap=True)
            else:
                t.add_column(col, justify="right")
        for r in rows:
            t.add_row(r["key"], str(r["trades"]), f"{r['profit_mean_pct']:+.3f}",
                      f"{r['profit_total_abs']:.8g}", f"{r['profit_total_pct']:+.2f}",
                      f"{r['wins']}/{r['draws']}/{r['losses']}", f"{r['duration_mean_min']:.0f}")
        console.print(t)
    f = b["fees"]
    line = (f"fees paid {f['total']:.8g} ({f['pct_of_wallet']:.2f} % of the wallet); "
            f"before fees the run made {f['profit_before_fees']:+.8g}")
    if f["share_of_loss"] is not None:
        line += f"; fees are {100 * f['share_of_loss']:.0f} % of the loss"
    console.print(line)
    if b.get("partial_exits"):
        console.print(partial_exits_line(b["partial_exits"]), soft_wrap=True)
    if b["buy_and_hold"] is not None:
        h = b["buy_and_hold"]
        console.print(f"buy and hold (wallet split equally over the pairs): "
                      f"{h['profit_total_abs']:+.8g} ({h['profit_total_pct']:+.2f} %)")


def partial_exits_line(p: dict[str, Any]) -> str:
    """The one line saying the report's profit differs from Freqtrade's profit_abs."""
    return (f"{p['trades']} trades had partial exits: Freqtrade's profit_abs counts only "
            f"their last exit (total {p['profit_total_abs_freqtrade']:+.8g}); realised "
            f"including partial exits: {p['profit_total_abs']:+.8g}")
