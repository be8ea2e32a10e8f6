"""Trades as columns: the reference files' fields, Freqtrade's exact profit and the
kernel's records turned into trades (entry tags, fees, exit tags)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine.strategy.interface import exit_tag_at

if TYPE_CHECKING:
    from engine.backtest.runner import Grid

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

TRADE_COLUMNS = (
    "pair",
    "open_time",
    "close_time",
    "open_rate",
    "close_rate",
    "profit_ratio",
    "profit_abs",
    "amount",
    "stake_amount",
    "exit_reason",
    "is_open",
)
# --trades-out's columns: the reference's, then the realised profit including partial
# exits (the parity comparisons read the reference's columns by name, so a trailing
# column leaves them untouched)
EXPORT_COLUMNS = (*TRADE_COLUMNS, "realized_profit")


@dataclass(slots=True)
class Trades:
    """Closed trades as columns (oldest entry first), the reference files' columns plus
    ``is_short``, ``open_ms``/``close_ms`` (candle open times, ms) and ``pair_index``."""

    pair: npt.NDArray[np.str_]
    pair_index: I64
    open_ms: I64
    close_ms: I64
    open_rate: F64
    close_rate: F64
    profit_ratio: F64
    profit_abs: F64
    amount: F64
    stake_amount: F64
    exit_reason: npt.NDArray[np.str_]
    is_short: npt.NDArray[np.bool_]
    is_open: npt.NDArray[np.bool_]
    enter_tag: npt.NDArray[np.str_] | None = None  # the entry signal's tag ("" if none)
    fees: F64 | None = None  # fees paid per trade (every order's value x its fee)
    # futures runs only (engine.backtest.futures): None on spot
    leverage: F64 | None = None
    liquidation_price: F64 | None = None  # 0.0: cannot be liquidated
    funding_fees: F64 | None = None  # received (+) / paid (-), included in profit_abs
    # profit of ALL the trade's exits (each: close value less the averaged open value,
    # fees included). Freqtrade's exported profit_abs keeps only the last exit's when a
    # trade had partial exits; the report uses this one (None: equal to profit_abs)
    realized_profit: F64 | None = None

    def __len__(self) -> int:
        return int(self.open_ms.shape[0])

    def realised(self) -> F64:
        """Each trade's realised profit including partial exits (what the report sums)."""
        return self.profit_abs if self.realized_profit is None else self.realized_profit

    def partial_exit_mask(self) -> npt.NDArray[np.bool_]:
        """Trades whose Freqtrade profit_abs leaves out partial exits' profit."""
        return np.abs(self.realised() - self.profit_abs) > 1e-12

    def rows(self) -> list[dict[str, Any]]:
        """One dict per trade in the reference CSV's columns (ISO-8601 UTC times), then
        ``realized_profit``."""
        ot = _iso_z(self.open_ms)
        ct = _iso_z(self.close_ms)
        amount = np.round(self.amount, 8).tolist()
        cols = (
            self.pair.tolist(),
            ot,
            ct,
            self.open_rate.tolist(),
            self.close_rate.tolist(),
            self.profit_ratio.tolist(),
            self.profit_abs.tolist(),
            amount,
            self.stake_amount.tolist(),
            self.exit_reason.tolist(),
            self.is_open.tolist(),
            self.realised().tolist(),
        )
        out = [dict(zip(EXPORT_COLUMNS, vals, strict=True)) for vals in zip(*cols, strict=True)]
        if self.leverage is not None:
            extra = (("leverage", self.leverage), ("liquidation_price", self.liquidation_price),
                     ("funding_fees", self.funding_fees), ("is_short", self.is_short))
            for name, col in extra:
                if col is not None:
                    for row, v in zip(out, col.tolist(), strict=True):
                        row[name] = v
        return out


def _iso_z(ms: I64) -> list[str]:
    """Candle times as ``2025-01-01T00:05:00Z`` strings (vectorised)."""
    s = np.datetime_as_string(
        (np.asarray(ms, dtype=np.int64) // 1000).astype("datetime64[s]"), unit="s"
    )
    return [x + "Z" for x in s.tolist()]


def exact_profit(
    amount: F64,
    open_rate: F64,
    close_rate: F64,
    fee_open: F64,
    fee_close: F64,
    is_short: npt.NDArray[np.bool_],
) -> tuple[F64, F64]:
    """profit_abs rounded to 8 decimals and profit_ratio = profit_abs / open value, as
    Freqtrade computes them (its trade values are decimal products of the floats' short
    forms). Vectorised in float; the few trades whose value sits within float noise of
    a rounding tie are redone in `Decimal`, so every trade matches."""
    sign = np.where(is_short, -1.0, 1.0)
    ov = amount * open_rate * (1.0 + sign * fee_open)
    cv = amount * close_rate * (1.0 - sign * fee_close)
    raw = (cv - ov) * sign
    scaled = raw * 1e8
    pa = np.round(raw, 8)
    frac = scaled - np.floor(scaled)
    for i in np.flatnonzero(np.abs(frac - 0.5) < 1e-3):
        a = Decimal(repr(float(amount[i])))
        ot = a * Decimal(repr(float(open_rate[i])))
        ct = a * Decimal(repr(float(close_rate[i])))
        fo, fc = Decimal(repr(float(fee_open[i]))), Decimal(repr(float(fee_close[i])))
        if is_short[i]:
            o_v, c_v = float(ot - ot * fo), float(ct + ct * fc)
            pa[i] = round(o_v - c_v, 8)
        else:
            o_v, c_v = float(ot + ot * fo), float(ct - ct * fc)
            pa[i] = round(c_v - o_v, 8)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ov != 0, pa / ov, 0.0)
    return pa, ratio


def trades_from_records(
    grid: Grid, irec: I64, frec: F64, reason_names: tuple[str, ...], exit_tags: list[Any],
    enter_tags: list[Any] | None = None,
) -> Trades:
    from engine.backtest.core import (
        F_AMOUNT,
        F_CLOSE_RATE,
        F_FEE_CLOSE,
        F_FEE_OPEN,
        F_OPEN_RATE,
        F_STAKE,
        I_PAIR,
        I_REASON,
        I_SHORT,
        I_T_CLOSE,
        I_T_OPEN,
        REASON_EXIT_SIGNAL,
    )

    pidx = irec[:, I_PAIR]
    short = irec[:, I_SHORT] == 1
    amount = frec[:, F_AMOUNT]
    pa, ratio = exact_profit(
        amount,
        frec[:, F_OPEN_RATE],
        frec[:, F_CLOSE_RATE],
        frec[:, F_FEE_OPEN],
        frec[:, F_FEE_CLOSE],
        short,
    )
    names = np.array(list(reason_names), dtype=object)
    reasons = names[irec[:, I_REASON]]
    sig = irec[:, I_REASON] == REASON_EXIT_SIGNAL
    if sig.any():
        for j in np.flatnonzero(sig):
            p = int(pidx[j])
            row = int(irec[j, I_T_CLOSE]) - 1 - int(grid.offset[p])
            reasons[j] = exit_tag_at(exit_tags[p], row)
    pairs = np.array(grid.pairs, dtype=object)
    etags = np.full(irec.shape[0], "", dtype=object)
    for k in range(irec.shape[0]):
        tags = enter_tags[int(pidx[k])] if enter_tags else None
        if tags is not None:
            tag = exit_tag_at(tags, int(irec[k, I_T_OPEN]) - 1 - int(grid.offset[pidx[k]]))
            etags[k] = "" if tag == "exit_signal" else tag
    fees = amount * (frec[:, F_OPEN_RATE] * frec[:, F_FEE_OPEN]
                     + frec[:, F_CLOSE_RATE] * frec[:, F_FEE_CLOSE])
    return Trades(
        pair=pairs[pidx].astype(str),
        pair_index=pidx.copy(),
        open_ms=grid.t0_ms + irec[:, I_T_OPEN] * grid.step_ms,
        close_ms=grid.t0_ms + irec[:, I_T_CLOSE] * grid.step_ms,
        open_rate=frec[:, F_OPEN_RATE].copy(),
        close_rate=frec[:, F_CLOSE_RATE].copy(),
        profit_ratio=ratio,
        profit_abs=pa,
        amount=amount.copy(),
        stake_amount=frec[:, F_STAKE].copy(),
        exit_reason=reasons.astype(str),
        is_short=short,
        is_open=np.zeros(irec.shape[0], dtype=np.bool_),
        enter_tag=etags.astype(str),
        fees=fees,
        realized_profit=pa.copy(),  # market-order trades have no partial exits
    )
