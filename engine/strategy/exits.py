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
from datetime import UTC, datetime
from inspect import signature
from math import isfinite
from typing import Any

from engine.data.pricestep import ceil_tick, floor_tick, round_tick
from engine.strategy.interface import Strategy, call_strategy
from engine.strategy.trade import price_to_step

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


# ---------------------------------------------------------------- order-level trades
# The rules for a trade with its orders (`engine.strategy.trade.Trade`, Freqtrade's
# accounting: averaged open rate, profits rounded to 8 places): the order-level backtest
# (`engine.backtest.orders`) and the live engine's order path
# (`engine.service.orderflow`) both call these, so a DCA trade's stop and ROI are
# relative to its averaged open rate in every mode.


def roi_step(table: dict[int, float] | dict[float, float], dur_min: int
             ) -> tuple[float | None, float | None]:
    """The ROI table's step in force after `dur_min` minutes: (minutes, ratio)."""
    best: tuple[float | None, float | None] = (None, None)
    for k, v in sorted((float(k), float(v)) for k, v in table.items()):
        if k <= dur_min:
            best = (k, v)
    return best


def rule_rate(strategy: Strategy, tr: Any, kind: str, dur: int, o: float, h: float,
              lw: float, c: float, fee: float, tf_min: int) -> float | None:
    """The rate a stop, trailing stop or ROI exit fills at on the candle (o, h, lw, c),
    `dur` minutes after the trade opened; None: no ROI exit on this candle."""
    if kind in (STOP_LOSS, TRAILING):
        if tr.stop_loss > h:
            return o
        if kind == TRAILING and dur == 0:
            tsp = strategy.trailing_stop_positive
            if strategy.trailing_only_offset_is_reached and tsp:
                r = o * (1 + abs(strategy.trailing_stop_positive_offset) - abs(float(tsp)))
            else:
                r = o * (1 - abs(tr.stop_loss_pct or 0.0))
            return max(lw, price_to_step(r, tr.tick, "nearest"))
        return float(tr.stop_loss)
    entry, roi = roi_step(strategy.minimal_roi, dur)
    if roi is None or entry is None:
        return o
    if roi == -1 and entry % tf_min == 0:
        return o
    # the rate at which profit / open value reaches the ROI, on the nearest price step
    rate = tr.open_rate * (1 + fee) * (1 + roi) / (1 - fee)
    rate = price_to_step(rate, tr.tick, "nearest")
    if dur > 0 and dur == entry and entry % tf_min == 0 and o > rate:
        return o
    if dur == 0 and o > c and tr.open_rate < o and rate > c:
        return None  # Freqtrade: no ROI exit inside a red opening candle
    return float(min(max(rate, lw), h))


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def _uses_after_fill(strategy: Strategy) -> bool:
    """Freqtrade calls `custom_stoploss` after fills only for a strategy whose own
    `custom_stoploss` names the ``after_fill`` parameter."""
    fn = type(strategy).custom_stoploss
    return fn is not Strategy.custom_stoploss and "after_fill" in signature(fn).parameters


def custom_stop(strategy: Strategy, tr: Any, ms: int, rate: float, profit: float,
                after_fill: bool) -> float | None:
    """Ask `custom_stoploss` at ``rate`` and move the trade's stop by its answer
    (only up, unless ``after_fill``); returns the ratio used, None when it kept the
    stop (None, 0, NaN or infinite: Freqtrade's rule)."""
    v = call_strategy(strategy, "custom_stoploss", pair=tr.pair, trade=tr,
                      current_time=_dt(ms), current_rate=rate, current_profit=profit,
                      after_fill=after_fill)
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not f or not isfinite(f):
        return None
    tr.adjust_stop_loss(rate, f, allow_refresh=after_fill)
    return f


def _after_fills(strategy: Strategy, tr: Any) -> None:
    """An order of the trade filled since the last candle: tell `custom_stoploss`
    (``after_fill=True``, at the fill's rate and time), as Freqtrade does right after
    each fill that leaves the trade open. Run here, before the candle's exit rules,
    so that the backtest and the live engine (which fill before checking exits) agree."""
    filled = tr.select_filled_orders()
    if len(filled) <= tr.stop_fills_seen:
        return
    tr.stop_fills_seen = len(filled)
    if not _uses_after_fill(strategy):
        return
    last = filled[-1]
    rate = float(last.price)
    if not tr.stop_loss < rate:
        return
    ms = int(last.filled_ms if last.filled_ms is not None else tr.open_ms)
    custom_stop(strategy, tr, ms, rate, tr.calc_profit_ratio(rate), after_fill=True)


def trade_exit(strategy: Strategy, tr: Any, ms: int, o: float, h: float, lw: float,
               c: float, fee: float, tf_min: int, *, signal_first: bool = False
               ) -> tuple[str, float] | None:
    """Stop / ROI / trailing of an order-level trade on the candle opening at `ms`:
    (reason, rate), or None. Moves the trade's (trailing) stop first, following the
    candle's high. `signal_first`: an exit signal took this candle's open, so no rule
    fires on it (Freqtrade exits once per candle, the signal first)."""
    s = strategy
    if s.use_custom_stoploss:
        _after_fills(s, tr)
    best = tr.calc_profit_ratio(h)
    sl = s.stoploss
    sl_f = float(sl) if sl is not None and float(sl) > -1.0 else None
    stop_kind = None
    if sl_f is not None or s.use_custom_stoploss:
        custom = None
        below = tr.stop_loss < lw  # Freqtrade's dir_correct, before either moves it
        if s.use_custom_stoploss and below:
            # Freqtrade's backtest rule: asked at the candle's high, the answer checked
            # against the same candle's low
            custom = custom_stop(s, tr, ms, h, best, after_fill=False)
        if s.trailing_stop and sl_f is not None and below:
            off = float(s.trailing_stop_positive_offset)
            if not (s.trailing_only_offset_is_reached and best < off):
                val = custom if custom is not None else sl_f
                if s.trailing_stop_positive is not None and best > off:
                    val = float(s.trailing_stop_positive)
                tr.adjust_stop_loss(h, val)
        if tr.stop_loss >= lw and tr.stop_loss > 0.0:
            stop_kind = TRAILING if tr.is_stop_loss_trailing else STOP_LOSS
    if signal_first:
        return None
    dur = int((ms - tr.open_ms) // 60_000)
    _, roi = roi_step(s.minimal_roi, dur)
    kinds: list[str] = []
    if stop_kind == STOP_LOSS:
        kinds.append(STOP_LOSS)
    if roi is not None and best > roi and stop_kind != STOP_LOSS:
        kinds.append(ROI)
    if stop_kind == TRAILING:
        kinds.append(TRAILING)
    for kind in kinds:
        r = rule_rate(s, tr, kind, dur, o, h, lw, c, fee, tf_min)
        if r is not None:
            return kind, r
    return None
