"""Backtest metrics, Freqtrade's definitions where Freqtrade has one.

Matching Freqtrade (``freqtrade/data/metrics.py``), so they agree with its summaries:

- ``profit_total`` = sum(profit_abs) / wallet; ``cagr`` over ``backtest_days`` =
  whole days between the first and the last candle's open time.
- ``max_drawdown_abs`` / ``max_drawdown_account``: on the cumulative realised profit of
  trades sorted by close time (high-water mark floored at 0), relative to wallet +
  high-water mark; ``max_relative_drawdown`` takes the trade with the largest relative
  drawdown instead of the largest absolute one.
- ``sharpe``/``sortino``/``calmar`` (trade-based): sum of per-trade returns
  (profit_abs / wallet) per day times sqrt(365), divided by the population std of all
  (Sharpe) or of the losing (Sortino) per-trade returns, or (Calmar) 100 x return per
  day over the max account drawdown; -100 when undefined, as Freqtrade.
- ``sqn`` = sqrt(n) x mean / sample std of per-trade returns, rounded to 4 places.
- ``expectancy``, ``expectancy_ratio``, ``profit_factor``, ``winrate`` on profit_abs.
- ``market_change``: mean over pairs of (last close - first close) / first close.

Which profit: by default each trade's realised profit INCLUDING partial exits
(`Trades.realised`). Freqtrade's exported ``profit_abs`` keeps only the last exit's
profit of a trade with partial exits (adjust_trade_position selling part), so its totals
and drawdowns mislead for such strategies (grid: every level a partial exit).
``basis="freqtrade"`` computes the same metrics on Freqtrade's ``profit_abs``: the
parity tests compare that against Freqtrade's summaries, and ``profit_total_abs_freqtrade``
/ ``partial_exit_trades`` in the default metrics say when the two differ. The two are
identical for trades without partial exits (every market-order kernel run).

Our own (no Freqtrade counterpart in the summary): ``sharpe_daily``, ``sortino_daily``
and ``calmar_daily`` from the daily balance (realised profit booked on the close day,
every calendar day of the backtest counted, annualised with 365), drawdown duration,
consecutive wins/losses, best/worst pair and day, trades per day.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from engine.backtest.runner import BacktestResult, Trades

F64 = npt.NDArray[np.float64]
DAY_MS = 86_400_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    s = round(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    hms = f"{h}:{m:02d}:{sec:02d}"
    return f"{d} day{'s' if d != 1 else ''}, {hms}" if d else hms


def drawdown(
    profit_abs: F64, close_ms: npt.NDArray[np.int64], wallet: float, relative: bool = False
) -> dict[str, Any]:
    """Freqtrade's ``calculate_max_drawdown`` on realised profit (trades in close order)."""
    if profit_abs.size == 0:
        return {
            "abs": 0.0,
            "account": 0.0,
            "high_ms": None,
            "low_ms": None,
            "high_value": 0.0,
            "low_value": 0.0,
        }
    order = np.argsort(close_ms, kind="stable")
    cum = np.cumsum(profit_abs[order])
    high = np.maximum(0.0, np.maximum.accumulate(cum))
    dd = cum - high
    rel = ((wallet + high) - (wallet + cum)) / (wallet + high)
    i = int(np.argmax(rel)) if relative else int(np.argmin(dd))
    hi = int(np.argmax(high[: i + 1]))
    cms = close_ms[order]
    return {
        "abs": float(abs(dd[i])),
        "account": float(rel[i]),
        "high_ms": int(cms[hi]),
        "low_ms": int(cms[i]),
        "high_value": float(cum[hi]),
        "low_value": float(cum[i]),
    }


SHARPE_LABELS = (("sharpe", "Sharpe (per trade)"), ("sharpe_daily", "Sharpe (daily)"))


def sharpe_text(m: dict[str, Any]) -> str:
    """The Sharpe ratios as every report names them: the chat's text, the CLI table
    and the PNG all call this, so one label always means one definition (the
    trade-based ratio above, Freqtrade's; the daily-balance one below, ours)."""
    parts = []
    for key, label in SHARPE_LABELS:
        v = m.get(key)
        parts.append(f"{label} {float(v):.2f}" if isinstance(v, int | float) else
                     f"{label} n/a")
    return ", ".join(parts)


def sharpe_trades(ret: F64, days: int) -> float:
    if ret.size == 0:
        return 0.0
    sd = float(np.std(ret))
    return float(ret.sum() / max(1, days) / sd * math.sqrt(365)) if sd != 0 else -100.0


def sortino_trades(ret: F64, days: int) -> float:
    if ret.size == 0:
        return 0.0
    neg = ret[ret < 0]
    sd = float(np.std(neg)) if neg.size else float("nan")
    if sd != 0 and not math.isnan(sd):
        return float(ret.sum() / max(1, days) / sd * math.sqrt(365))
    return -100.0


def calmar_trades(total_ratio: float, days: int, max_dd_account: float) -> float:
    if max_dd_account == 0:
        return -100.0
    return total_ratio / max(1, days) * 100 / max_dd_account * math.sqrt(365)


def sqn(ret: F64) -> float:
    if ret.size < 2:
        return -100.0 if ret.size else 0.0
    sd = float(np.std(ret, ddof=1))
    if sd == 0 or math.isnan(sd):
        return -100.0
    return round(math.sqrt(ret.size) * float(ret.mean()) / sd, 4)


def expectancy(profit_abs: F64) -> tuple[float, float]:
    n = profit_abs.size
    if n == 0:
        return 0.0, 100.0
    w = profit_abs[profit_abs > 0]
    lo = profit_abs[profit_abs < 0]
    avg_w = float(w.sum() / w.size) if w.size else 0.0
    avg_l = float(abs(lo.sum()) / lo.size) if lo.size else 0.0
    exp = (w.size / n) * avg_w - (lo.size / n) * avg_l
    ratio = ((1 + avg_w / avg_l) * (w.size / n)) - 1 if avg_l > 0 else 100.0
    return float(exp), float(ratio)


def cagr(start: float, final: float, days: float) -> float:
    if final < 0 or days <= 0:
        return 0.0
    return float((final / start) ** (1 / (days / 365)) - 1)


def streaks(profit_abs: F64) -> tuple[int, int]:
    """Longest runs of winning and of losing trades (in the order given)."""
    best_w = best_l = cw = cl = 0
    for x in profit_abs:
        if x > 0:
            cw, cl = cw + 1, 0
        elif x < 0:
            cw, cl = 0, cl + 1
        else:
            cw = cl = 0
        best_w, best_l = max(best_w, cw), max(best_l, cl)
    return best_w, best_l


def daily_balance(
    profit_abs: F64, close_ms: npt.NDArray[np.int64], wallet: float, start_ms: int, end_ms: int
) -> tuple[npt.NDArray[np.int64], F64]:
    """Balance at the end of each UTC day from start to end (realised profit only)."""
    d0, d1 = start_ms // DAY_MS, end_ms // DAY_MS
    days = np.arange(d0, d1 + 1, dtype=np.int64)
    per_day = np.zeros(days.size)
    if profit_abs.size:
        np.add.at(per_day, np.clip(close_ms // DAY_MS - d0, 0, days.size - 1), profit_abs)
    return days, wallet + np.cumsum(per_day)


def ratios_from_balance(balance: F64, wallet: float) -> dict[str, float]:
    prev = np.r_[wallet, balance[:-1]]
    r = balance / prev - 1.0
    out = {"sharpe_daily": 0.0, "sortino_daily": 0.0, "calmar_daily": 0.0}
    if r.size < 2:
        return out
    sd = float(np.std(r, ddof=1))
    mean = float(r.mean())
    out["sharpe_daily"] = mean / sd * math.sqrt(365) if sd > 0 else 0.0
    down = np.minimum(r, 0.0)
    dsd = float(np.sqrt(np.mean(down**2)))
    out["sortino_daily"] = mean / dsd * math.sqrt(365) if dsd > 0 else 0.0
    peak = np.maximum.accumulate(np.r_[wallet, balance])
    mdd = float(np.max((peak - np.r_[wallet, balance]) / peak))
    years = r.size / 365
    growth = cagr(wallet, float(balance[-1]), r.size) if years > 0 else 0.0
    out["calmar_daily"] = growth / mdd if mdd > 0 else 0.0
    return out


def market_change(data: dict[str, Any]) -> float:
    ch = []
    for c in data.values():
        cl = c.close[~np.isnan(c.close)]
        if cl.size:
            ch.append((cl[-1] - cl[0]) / cl[0])
    return float(np.mean(ch)) if ch else 0.0


def compute_metrics(result: BacktestResult, basis: str = "realised") -> dict[str, Any]:
    """All summary metrics of a run (see the module docstring for definitions), on the
    realised profit including partial exits or (``basis="freqtrade"``) on Freqtrade's
    exported profit_abs."""
    if basis not in ("realised", "freqtrade"):
        raise ValueError(f"basis must be 'realised' or 'freqtrade', not {basis!r}")
    tr: Trades = result.trades
    wallet = result.wallet
    pa = tr.profit_abs if basis == "freqtrade" else tr.realised()
    n = len(tr)
    starts = [int(c.open_time[0]) for c in result.data.values()]
    ends = [int(c.open_time[-1]) for c in result.data.values()]
    start_ms, end_ms = (min(starts), max(ends)) if starts else (0, 0)
    days = (end_ms - start_ms) // DAY_MS
    total = float(pa.sum())
    ret = pa / wallet
    final = wallet + total
    dd = drawdown(pa, tr.close_ms, wallet)
    dd_rel = drawdown(pa, tr.close_ms, wallet, relative=True)
    # by the trade's profit ratio, as Freqtrade counts them: the two differ in sign only
    # for a position-adjusted trade whose exported profit_abs is its last exit's (the
    # reference DCA run: 311 wins by ratio, 308 by profit_abs; Freqtrade reports 311)
    pr = tr.profit_ratio
    wins = int((pr > 0).sum())
    losses = int((pr < 0).sum())
    gp, gl = float(pa[pa > 0].sum()), float(-pa[pa < 0].sum())
    exp, exp_ratio = expectancy(pa)
    order = np.argsort(tr.close_ms, kind="stable")
    sw, sl = streaks(pa[order])
    dur_s = (tr.close_ms - tr.open_ms) / 1000.0
    day_idx, bal = daily_balance(pa, tr.close_ms, wallet, start_ms, end_ms)
    per_day = np.diff(np.r_[wallet, bal])
    pair_profit = {p: float(pa[tr.pair == p].sum()) for p in result.pairs}
    reasons: dict[str, int] = {}
    for r in tr.exit_reason:
        reasons[str(r)] = reasons.get(str(r), 0) + 1
    m: dict[str, Any] = {
        "total_trades": n,
        "trades_per_day": n / max(1, days),
        "trade_count_long": int((~tr.is_short).sum()),
        "trade_count_short": int(tr.is_short.sum()),
        "profit_total": total / wallet,
        "profit_total_abs": total,
        "profit_mean": float(tr.profit_ratio.mean()) if n else 0.0,
        "starting_balance": wallet,
        "final_balance": final,
        "cagr": cagr(wallet, final, days),
        "wins": wins,
        "losses": losses,
        "draws": n - wins - losses,
        "winrate": wins / n if n else 0.0,
        "profit_factor": gp / gl if gl > 0 else 0.0,
        "expectancy": exp,
        "expectancy_ratio": exp_ratio,
        "sharpe": sharpe_trades(ret, days) if days > 0 else 0.0,
        "sortino": sortino_trades(ret, days) if days > 0 else 0.0,
        "calmar": calmar_trades(total / wallet, days, dd["account"]) if n and days > 0 else 0.0,
        "sqn": sqn(ret),
        "max_drawdown_abs": dd["abs"],
        "max_drawdown_account": dd["account"],
        "max_relative_drawdown": dd_rel["account"],
        "drawdown_start": _iso(dd["high_ms"]) if dd["high_ms"] is not None else None,
        "drawdown_end": _iso(dd["low_ms"]) if dd["low_ms"] is not None else None,
        "drawdown_duration": _duration((dd["low_ms"] - dd["high_ms"]) / 1000)
        if dd["high_ms"] is not None
        else None,
        "max_consecutive_wins": sw,
        "max_consecutive_losses": sl,
        # Freqtrade rounds the mean holding time to whole minutes
        "holding_avg": _duration(round(float(dur_s.mean()) / 60) * 60) if n else "0:00:00",
        "holding_avg_s": float(dur_s.mean()) if n else 0.0,
        "best_pair": max(pair_profit, key=lambda k: pair_profit[k]) if n else None,
        "worst_pair": min(pair_profit, key=lambda k: pair_profit[k]) if n else None,
        "best_day": {
            "date": _iso(int(day_idx[int(np.argmax(per_day))]) * DAY_MS)[:10],
            "profit_abs": float(per_day.max()),
        }
        if per_day.size
        else None,
        "worst_day": {
            "date": _iso(int(day_idx[int(np.argmin(per_day))]) * DAY_MS)[:10],
            "profit_abs": float(per_day.min()),
        }
        if per_day.size
        else None,
        "market_change": market_change(result.data),
        "backtest_start": _iso(start_ms),
        "backtest_end": _iso(end_ms),
        "backtest_days": int(days),
        "exit_reasons": reasons,
        "pair_profit_abs": pair_profit,
        "profit_basis": basis,
        # Freqtrade's total and how many trades' profit_abs leaves out partial exits
        "profit_total_abs_freqtrade": float(tr.profit_abs.sum()),
        "partial_exit_trades": int(tr.partial_exit_mask().sum()),
    }
    m.update(ratios_from_balance(bal, wallet))
    return m
