"""The simulation core: one numba pass over aligned (pair x time) arrays.

Time-major like Freqtrade: for each candle time, pairs are visited in the order given;
for each pair, first a possible entry, then the exit checks of its open trade. Exits of
an earlier pair free a slot for a later pair at the same time; never the other way.

Intra-candle ordering (candle t, with the signal columns of the CLOSED candle t-1):

1. Entry: ``enter_long[t-1]`` and not ``exit_long[t-1]`` / ``enter_short[t-1]``
   (mirror for shorts), a free slot (``max_open_trades``), stake affordable, one trade
   per pair, and not on the very last candle time. Market orders fill at ``open[t]``
   (plus slippage against us), rounded to the nearest price step; limit orders
   (``enter_limit[t-1]``) fill only if the candle reaches the limit, at the limit or a
   better open; they live one candle.
   The stop is set from the fill: ``open_rate * (1 - |stoploss|)`` rounded UP to the
   pair's price step (DOWN for shorts), the step being the one of the entry's month.
2. Exit checks, on the same candle the trade opened too, first match wins
   (Freqtrade's order):
   a. exit signal of candle t-1 (and no entry signal): fills at ``open[t]``;
   b. fixed stoploss: ``low[t] <= stop`` (``high`` for shorts) fills at the stop
      (at ``open[t]`` if the stop lies above the whole candle);
   c. ROI: the table entry for the trade's age, profit measured at ``high[t]``; fills
      at the rate that gives exactly that ROI rounded to the nearest price step (as
      Freqtrade does), clamped into the candle, or at the open when a new ROI step takes
      effect on this candle with the open already beyond it;
   d. trailing stop: moved with ``high[t]`` first (the pessimistic path: the candle
      went up, then down), then checked against ``low[t]``.
   So when a stop and a target both lie inside one candle, the stop wins
   (pessimistic).
   Futures only (`simulate_futures`): funding is booked first at a funding time, and a
   liquidation (the candle reaching the liquidation price) comes before the stop unless
   the stop lies between the entry and the liquidation price.
3. Trades still open after the last candle of their pair close at that candle's OPEN
   (``force_exit``).

The kernel computes profits in float for the wallet; `engine.backtest.runner` then
recomputes the exported ``profit_abs`` exactly as Freqtrade does (decimal products,
rounded to 8 places) so exported trades match trade for trade.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.data.pricestep import ceil_tick, floor_tick, round_tick
from engine.margin.liquidation import liquidation_price_f

REASON_EXIT_SIGNAL = 0
REASON_STOP_LOSS = 1
REASON_TRAILING = 2
REASON_ROI = 3
REASON_FORCE = 4
REASON_LIQUIDATION = 5
REASON_NAMES = ("exit_signal", "stop_loss", "trailing_stop_loss", "roi", "force_exit",
                "liquidation")

# trade record columns in the float matrix returned by `simulate`
F_OPEN_RATE, F_CLOSE_RATE, F_AMOUNT, F_STAKE, F_PROFIT, F_FEE_OPEN, F_FEE_CLOSE = range(7)
F_FUNDING, F_LIQ, F_LEV = 7, 8, 9  # futures: funding received (+)/paid (-), LP (0: none)
N_F = 10
# integer columns
I_PAIR, I_T_OPEN, I_T_CLOSE, I_REASON, I_SHORT = range(5)
N_I = 5


@njit(cache=True, nogil=True)
def _roi_for(age_min: float, roi_min, roi_val):
    """(key, threshold) of the ROI table for a trade of this age: the entry with the
    largest key <= age ((-1, inf) when none applies)."""
    best_k = -1.0
    best = np.inf
    for i in range(roi_min.shape[0]):
        k = roi_min[i]
        if k <= age_min and k > best_k:
            best_k = k
            best = roi_val[i]
    return best_k, best


@njit(cache=True, nogil=True)
def _simulate(
    op,
    hi,
    lo,
    valid,
    el,
    xl,
    es,
    xs,
    scale,
    limit,
    tick,
    last_idx,
    end_t,
    stoploss,
    trailing,
    tsp,
    tsp_off,
    only_off,
    roi_min,
    roi_val,
    tf_min,
    stake_fixed,
    stake_pct,
    wallet,
    max_open,
    fee_taker,
    fee_maker,
    slippage,
    cap,
    futures,
    lev,
    fund,
    tfl,
    tmmr,
    tcum,
):
    """Run the event loop; returns (int records, float records, count).

    Arrays are (times, pairs), C order, so one time step is contiguous; `valid` marks
    where a pair has a candle; signals are the strategy's columns on their own candle
    (the kernel reads t-1 at t). ``tick`` holds the price-step decimals per candle
    (-1: no rounding). ``stoploss`` <= -1 or NaN disables the stop; ``tsp`` NaN means
    no ``trailing_stop_positive``; ``max_open`` < 0 means unlimited; ``stake_pct`` > 0
    sizes stakes as that fraction of equity.

    Futures (``futures`` True): ``lev[t, p]`` is the leverage of an entry filled on
    candle t (NaN: refused, no entry); the stake is the isolated margin and the
    position ``stake * lev / price``; its liquidation price comes from the brackets
    (``tfl``/``tmmr``/``tcum``: floors, rates, maintenance amounts). ``fund[t]`` is the
    funding rate at candle t's open time (NaN: no funding then), charged on the open
    price as the mark to every position opened before it; it moves the position's
    margin and so its liquidation price. A liquidation exits at the
    liquidation price (the open when it gapped through), unless a stop lies before it.
    """
    n_t, n_p = op.shape
    irec = np.zeros((cap, N_I), dtype=np.int64)
    frec = np.zeros((cap, N_F), dtype=np.float64)
    cur = np.full(n_p, -1, dtype=np.int64)
    stop = np.zeros(n_p)
    stop_trailing = np.zeros(n_p, dtype=np.bool_)
    use_sl = stoploss == stoploss and stoploss > -1.0
    sl_abs = abs(stoploss) if use_sl else 0.0
    has_tsp = tsp == tsp
    n_roi = roi_min.shape[0]
    n_open = 0
    ntr = 0
    realised = 0.0
    locked = 0.0
    for t in range(n_t):
        for p in range(n_p):
            if not valid[t, p]:
                continue
            k = cur[p]
            # ---------------------------------------------------------- entry
            if k < 0:
                if t == 0 or t == end_t:
                    continue
                s_el = el[t - 1, p]
                s_es = es[t - 1, p]
                if not (s_el or s_es) or not valid[t - 1, p]:
                    continue
                if max_open >= 0 and n_open >= max_open:
                    continue
                o = op[t, p]
                h = hi[t, p]
                lw = lo[t, p]
                direction = 0
                if s_el and not (xl[t - 1, p] or s_es):
                    direction = 1
                elif s_es and not (xs[t - 1, p] or s_el):
                    direction = -1
                if direction != 0:
                    lim = limit[t - 1, p]
                    price = 0.0
                    fee = fee_taker
                    if lim == lim:
                        fee = fee_maker
                        if direction == 1 and lw <= lim:
                            price = min(lim, o)
                        elif direction == -1 and h >= lim:
                            price = max(lim, o)
                    else:
                        price = o * (1.0 + slippage) if direction == 1 else o * (1.0 - slippage)
                    price = round_tick(price, tick[t, p])
                    if price > 0.0 and ntr < cap:
                        base = stake_fixed if stake_pct <= 0.0 else stake_pct * (wallet + realised)
                        st = base * scale[t - 1, p]
                        lv = 1.0
                        if futures:
                            lv = lev[t, p]
                            if not lv >= 1.0:
                                st = 0.0
                        if st > 0.0 and st <= wallet + realised - locked:
                            k = ntr
                            ntr += 1
                            cur[p] = k
                            n_open += 1
                            locked += st
                            irec[k, I_PAIR] = p
                            irec[k, I_T_OPEN] = t
                            irec[k, I_SHORT] = 1 if direction == -1 else 0
                            frec[k, F_OPEN_RATE] = price
                            frec[k, F_AMOUNT] = st / price
                            frec[k, F_LEV] = lv
                            if futures:
                                frec[k, F_AMOUNT] = st * lv / price
                                frec[k, F_LIQ] = liquidation_price_f(
                                    direction, st * lv / price, price, st, tfl, tmmr, tcum)
                            frec[k, F_STAKE] = st
                            frec[k, F_FEE_OPEN] = fee
                            stop_trailing[p] = False
                            if use_sl:
                                if direction == 1:
                                    stop[p] = ceil_tick(price * (1.0 - sl_abs), tick[t, p])
                                else:
                                    stop[p] = floor_tick(price * (1.0 + sl_abs), tick[t, p])
                if k < 0:
                    continue
            else:
                o = op[t, p]
                h = hi[t, p]
                lw = lo[t, p]
            # ---------------------------------------------------------- exits
            short = irec[k, I_SHORT] == 1
            orate = frec[k, F_OPEN_RATE]
            amount = frec[k, F_AMOUNT]
            fo = frec[k, F_FEE_OPEN]
            t_open = irec[k, I_T_OPEN]
            reason = -1
            rate = 0.0
            fc = fee_taker
            if futures and t > t_open and fund[t] == fund[t]:
                frec[k, F_FUNDING] += (amount if short else -amount) * o * fund[t]
                # isolated: funding lives in the position's margin, which moves LP
                frec[k, F_LIQ] = liquidation_price_f(
                    -1 if short else 1, amount, orate, frec[k, F_STAKE] + frec[k, F_FUNDING],
                    tfl, tmmr, tcum)
            # a. exit signal
            if t > 0 and valid[t - 1, p]:
                if short:
                    sig = xs[t - 1, p] and not es[t - 1, p]
                else:
                    sig = xl[t - 1, p] and not el[t - 1, p]
                if sig:
                    reason = REASON_EXIT_SIGNAL
                    rate = o * (1.0 + slippage) if short else o * (1.0 - slippage)
            # profit at the favourable extreme (for trailing and ROI; skipped otherwise)
            bound = lw if short else h
            bound_profit = 0.0
            if reason < 0 and (n_roi > 0 or (use_sl and trailing)):
                ov = amount * orate * (1.0 - fo if short else 1.0 + fo)
                if short:
                    bound_profit = 1.0 - amount * bound * (1.0 + fee_taker) / ov
                else:
                    bound_profit = amount * bound * (1.0 - fee_taker) / ov - 1.0
            # d (prepare). trailing adjusts the stop with the candle's extreme first
            if reason < 0 and use_sl and trailing and not (only_off and bound_profit < tsp_off):
                sl_val = sl_abs
                if has_tsp and bound_profit > tsp_off:
                    sl_val = abs(tsp)
                if short:
                    new = floor_tick(bound * (1.0 + sl_val), tick[t_open, p])
                    if new < stop[p]:
                        stop[p] = new
                        stop_trailing[p] = True
                else:
                    new = ceil_tick(bound * (1.0 - sl_val), tick[t_open, p])
                    if new > stop[p]:
                        stop[p] = new
                        stop_trailing[p] = True
            hit = False
            if reason < 0 and use_sl:
                hit = (h >= stop[p]) if short else (lw <= stop[p])
            # liquidation: the mark (candle extreme) reached LP before any stop
            if futures and reason < 0 and frec[k, F_LIQ] > 0.0:
                liq = frec[k, F_LIQ]
                lhit = (h >= liq) if short else (lw <= liq)
                stop_first = hit and ((short and stop[p] < liq) or (not short and stop[p] > liq))
                if lhit and not stop_first:
                    reason = REASON_LIQUIDATION
                    hit = False
                    gapped = (short and o >= liq) or (not short and o <= liq)
                    rate = o if gapped else liq
            # b. fixed stoploss
            if hit and not stop_trailing[p]:
                reason = REASON_STOP_LOSS
            # c. ROI
            if reason < 0 and n_roi > 0:
                age = (t - t_open) * tf_min
                roi_k, roi = _roi_for(age, roi_min, roi_val)
                # the open only where a new ROI step takes effect on this candle
                new_step = t > t_open and age == roi_k and roi_k % tf_min == 0
                if bound_profit > roi:
                    reason = REASON_ROI
                    fc = fee_maker
                    if short:
                        rr = orate * (1.0 - fo) * (1.0 - roi) / (1.0 + fc)
                    else:
                        rr = orate * (1.0 + fo) * (1.0 + roi) / (1.0 - fc)
                    rr = round_tick(rr, tick[t_open, p])  # Freqtrade rounds it to the step
                    if short:
                        rate = o if new_step and o < rr else min(max(rr, lw), h)
                    else:
                        rate = o if new_step and o > rr else min(max(rr, lw), h)
            # d. trailing stop
            if reason < 0 and hit and stop_trailing[p]:
                reason = REASON_TRAILING
            if reason in (REASON_STOP_LOSS, REASON_TRAILING):
                sp = stop[p]
                if (not short and sp > h) or (short and sp < lw):
                    rate = o
                elif (
                    reason == REASON_TRAILING
                    and t == t_open
                    and only_off
                    and has_tsp
                ):
                    if short:
                        rate = min(h, round_tick(o * (1.0 - tsp_off + abs(tsp)), tick[t_open, p]))
                    else:
                        rate = max(lw, round_tick(o * (1.0 + tsp_off - abs(tsp)), tick[t_open, p]))
                else:
                    rate = sp
                rate = rate * (1.0 + slippage) if short else rate * (1.0 - slippage)
            if reason >= 0:
                ov = amount * orate * (1.0 - fo if short else 1.0 + fo)
                cv = amount * rate * (1.0 + fc if short else 1.0 - fc)
                pa = ov - cv if short else cv - ov
                if futures:
                    pa += frec[k, F_FUNDING]
                irec[k, I_T_CLOSE] = t
                irec[k, I_REASON] = reason
                frec[k, F_CLOSE_RATE] = rate
                frec[k, F_PROFIT] = pa
                frec[k, F_FEE_CLOSE] = fc
                realised += pa
                locked -= frec[k, F_STAKE]
                n_open -= 1
                cur[p] = -1
    # ------------------------------------------------------------------ force exit
    for p in range(n_p):
        k = cur[p]
        if k < 0:
            continue
        t = last_idx[p]
        short = irec[k, I_SHORT] == 1
        rate = op[t, p]
        rate = rate * (1.0 + slippage) if short else rate * (1.0 - slippage)
        amount = frec[k, F_AMOUNT]
        fo = frec[k, F_FEE_OPEN]
        ov = amount * frec[k, F_OPEN_RATE] * (1.0 - fo if short else 1.0 + fo)
        cv = amount * rate * (1.0 + fee_taker if short else 1.0 - fee_taker)
        irec[k, I_T_CLOSE] = t
        irec[k, I_REASON] = REASON_FORCE
        frec[k, F_CLOSE_RATE] = rate
        frec[k, F_PROFIT] = ov - cv if short else cv - ov
        if futures:
            frec[k, F_PROFIT] += frec[k, F_FUNDING]
        frec[k, F_FEE_CLOSE] = fee_taker
        cur[p] = -1
    return irec[:ntr], frec[:ntr], ntr


@njit(cache=True, nogil=True)
def simulate(op, hi, lo, valid, el, xl, es, xs, scale, limit, tick, last_idx, end_t,
             stoploss, trailing, tsp, tsp_off, only_off, roi_min, roi_val, tf_min,
             stake_fixed, stake_pct, wallet, max_open, fee_taker, fee_maker, slippage, cap):
    """Spot: the event loop without leverage, liquidation or funding (see `_simulate`)."""
    none2 = np.ones((1, 1))
    none1 = np.zeros(1)
    return _simulate(op, hi, lo, valid, el, xl, es, xs, scale, limit, tick, last_idx, end_t,
                     stoploss, trailing, tsp, tsp_off, only_off, roi_min, roi_val, tf_min,
                     stake_fixed, stake_pct, wallet, max_open, fee_taker, fee_maker,
                     slippage, cap, False, none2, none1, none1, none1, none1)


@njit(cache=True, nogil=True)
def simulate_futures(op, hi, lo, valid, el, xl, es, xs, scale, limit, tick, last_idx, end_t,
                     stoploss, trailing, tsp, tsp_off, only_off, roi_min, roi_val, tf_min,
                     stake_fixed, stake_pct, wallet, max_open, fee_taker, fee_maker,
                     slippage, cap, lev, fund, tfl, tmmr, tcum):
    """Futures: `simulate` plus leverage, isolated liquidation and funding."""
    return _simulate(op, hi, lo, valid, el, xl, es, xs, scale, limit, tick, last_idx, end_t,
                     stoploss, trailing, tsp, tsp_off, only_off, roi_min, roi_val, tf_min,
                     stake_fixed, stake_pct, wallet, max_open, fee_taker, fee_maker,
                     slippage, cap, True, lev, fund, tfl, tmmr, tcum)
