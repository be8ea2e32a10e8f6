"""Exit rules of an open trade on one closed candle: stoploss, ROI table, trailing stop.

This is the backtest kernel's exit block (`engine.backtest.core.simulate`, steps b-d)
for one trade and one candle, in plain Python, so the live engine exits where the
backtester exits: same order (stop before ROI before trailing; the stop wins when both
lie inside one candle), same rates (the stop price, or the open when the candle gapped
through it; the ROI rate on the nearest step, clamped into the candle), same rounding
of stop prices to the price step (UP for longs). The exit *signal* is not here: the
engine acts on it at the close of the candle that raised it, which is the backtester's
"next open".

The parity tests (`tests/engine/test_live_parity.py`) hold the two to the same trades.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.pricestep import ceil_tick, floor_tick, round_tick
from engine.strategy.interface import Strategy

STOP_LOSS, TRAILING, ROI = "stop_loss", "trailing_stop_loss", "roi"


@dataclass(slots=True)
class Position:
    """What the exit rules need of an open trade (kept by the runtime per trade)."""

    open_rate: float
    amount: float
    fee_open: float
    open_ms: int  # open time of the candle the entry filled on
    tick: int  # price-step decimals of that candle (-1: no rounding)
    stop: float = float("nan")
    trailing: bool = False
    short: bool = False


@dataclass(frozen=True, slots=True)
class Exit:
    reason: str
    rate: float
    fee: float


def initial_stop(strategy: Strategy, rate: float, tick: int, short: bool = False) -> float:
    """The fixed stop from the fill rate, rounded to the step (NaN when disabled)."""
    sl = float(strategy.stoploss) if strategy.stoploss is not None else float("nan")
    if not (sl == sl and sl > -1.0):
        return float("nan")
    if short:
        return float(floor_tick(rate * (1.0 + abs(sl)), tick))
    return float(ceil_tick(rate * (1.0 - abs(sl)), tick))


def _roi_for(age_min: float, table: dict[int, float]) -> tuple[float, float]:
    best_k, best = -1.0, float("inf")
    for k, v in table.items():
        if float(k) <= age_min and float(k) > best_k:
            best_k, best = float(k), float(v)
    return best_k, best


def check_exit(strategy: Strategy, pos: Position, o: float, h: float, lw: float,
               candle_open_ms: int, tf_ms: int, fee_taker: float, fee_maker: float,
               slippage: float = 0.0) -> Exit | None:
    """Stop / ROI / trailing on the candle (o, h, lw) that opened at `candle_open_ms`.

    Mutates `pos.stop` / `pos.trailing` as the kernel does (the trailing stop follows
    the candle's extreme first: the pessimistic path)."""
    sl = float(strategy.stoploss) if strategy.stoploss is not None else float("nan")
    use_sl = sl == sl and sl > -1.0
    sl_abs = abs(sl) if use_sl else 0.0
    short = pos.short
    roi_table = dict(strategy.minimal_roi)
    trailing = bool(strategy.trailing_stop)
    tsp = strategy.trailing_stop_positive
    has_tsp = tsp is not None and tsp == tsp
    tsp_off = float(strategy.trailing_stop_positive_offset)
    only_off = bool(strategy.trailing_only_offset_is_reached)
    orate, amount, fo = pos.open_rate, pos.amount, pos.fee_open
    at_open = candle_open_ms == pos.open_ms
    bound = lw if short else h
    bound_profit = 0.0
    if roi_table or (use_sl and trailing):
        ov = amount * orate * (1.0 - fo if short else 1.0 + fo)
        if short:
            bound_profit = 1.0 - amount * bound * (1.0 + fee_taker) / ov
        else:
            bound_profit = amount * bound * (1.0 - fee_taker) / ov - 1.0
    if use_sl and trailing and not (only_off and bound_profit < tsp_off):
        sl_val = abs(float(tsp)) if has_tsp and bound_profit > tsp_off else sl_abs  # type: ignore[arg-type]
        if short:
            new = float(floor_tick(bound * (1.0 + sl_val), pos.tick))
            if new < pos.stop:
                pos.stop, pos.trailing = new, True
        else:
            new = float(ceil_tick(bound * (1.0 - sl_val), pos.tick))
            if new > pos.stop:
                pos.stop, pos.trailing = new, True
    hit = use_sl and ((h >= pos.stop) if short else (lw <= pos.stop))
    reason: str | None = None
    rate, fc = 0.0, fee_taker
    if hit and not pos.trailing:
        reason = STOP_LOSS
    if reason is None and roi_table:
        age = (candle_open_ms - pos.open_ms) / 60_000.0
        roi_k, roi = _roi_for(age, roi_table)
        new_step = not at_open and age == roi_k and roi_k % (tf_ms / 60_000.0) == 0
        if bound_profit > roi:
            reason, fc = ROI, fee_maker
            if short:
                rr = orate * (1.0 - fo) * (1.0 - roi) / (1.0 + fc)
            else:
                rr = orate * (1.0 + fo) * (1.0 + roi) / (1.0 - fc)
            rr = float(round_tick(rr, pos.tick))
            if short:
                rate = o if new_step and o < rr else min(max(rr, lw), h)
            else:
                rate = o if new_step and o > rr else min(max(rr, lw), h)
    if reason is None and hit and pos.trailing:
        reason = TRAILING
    if reason is None:
        return None
    if reason in (STOP_LOSS, TRAILING):
        sp = pos.stop
        if (not short and sp > h) or (short and sp < lw):
            rate = o
        elif reason == TRAILING and at_open and only_off and has_tsp:
            t = abs(float(tsp))  # type: ignore[arg-type]
            if short:
                rate = min(h, float(round_tick(o * (1.0 - tsp_off + t), pos.tick)))
            else:
                rate = max(lw, float(round_tick(o * (1.0 + tsp_off - t), pos.tick)))
        else:
            rate = sp
        rate = rate * (1.0 + slippage) if short else rate * (1.0 - slippage)
    return Exit(reason, rate, fc)
