"""The order-level backtest: limit orders, time-outs, custom prices, position adjustment.

Strategies that only send market orders run in the numba kernel (`engine.backtest.core`).
A strategy with limit entries or exits, an ``unfilledtimeout``, custom entry/exit prices
or ``position_adjustment_enable`` runs here instead: a plain-Python event loop over the
same (times x pairs) grid that keeps every order of every trade (`engine.strategy.trade`)
and follows Freqtrade's backtesting rules, per candle and pair:

1. open orders older than the strategy's ``unfilledtimeout`` are cancelled (a trade whose
   first entry never filled is dropped);
2. an entry signal on the closed candle before places the entry order at this candle's
   open (limit: ``custom_entry_price``, rounded to the nearest price step, capped at the
   high); it fills on the first candle, from this one on, whose range reaches its price;
3. for a trade with a position: ``adjust_trade_position`` at the open (its orders fill at
   the open), then the exits in Freqtrade's order (exit signal, stop, ROI, trailing) with
   profits rounded to 8 places as Freqtrade computes them; the exit order fills when the
   candle's range reaches its price;
4. after the last candle, open positions close at that candle's open (``force_exit``).

The wallet that sizes stakes (``stake_amount`` as a share of the wallet, the available
stake that caps an entry or a safety order) books each closed trade's profit of ALL its
exits (`Trade.realized_profit`), the cash the exits actually brought. Freqtrade books
only the last exit's (``close_profit_abs``) for a trade with partial exits, so its wallet
loses the partial exits' profit when such a trade closes; the reference lists (fixed
stakes, a wallet that never binds) come out the same either way, which the parity tests
check.

Slower than the kernel (a Python loop), it is exact rather than fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.strategy.exits import trade_exit
from engine.strategy.interface import Strategy, StrategyError, call_strategy, exit_tag_at
from engine.strategy.trade import Order, Trade, price_to_step

F64 = npt.NDArray[np.float64]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _tag(tags: Any, row: int, default: str) -> str:
    t = exit_tag_at(tags, row)
    return default if t == "exit_signal" else t


class OrderBacktest:
    """One run: call `run` with the grid's arrays; trades come back closed, in the
    order they were opened."""

    def __init__(self, strategy: Strategy, *, fee: float, stake_fixed: float,
                 stake_pct: float, wallet: float, max_open: int, tf_ms: int) -> None:
        if strategy.can_short:
            raise StrategyError(f"{strategy.name}: short entries with limit orders or position"
                                " adjustment are not supported by the backtester yet")
        self.s = strategy
        self.fee = fee
        self.stake_fixed = stake_fixed
        self.stake_pct = stake_pct
        self.wallet = wallet
        self.max_open = max_open
        self.tf_ms = tf_ms
        self.tf_min = tf_ms // 60_000
        ot = dict(strategy.order_types)
        self.entry_limit = ot.get("entry", "market") == "limit"
        self.exit_limit = ot.get("exit", "market") == "limit"
        to = dict(strategy.unfilledtimeout)
        unit = {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000}[
            str(to.get("unit", "minutes"))]
        self.timeout_ms = {k: int(float(to[k]) * unit) for k in ("entry", "exit") if k in to}
        sl = strategy.stoploss
        self.sl = float(sl) if sl is not None and float(sl) > -1.0 else None
        self.realised = 0.0
        self.timed_out = {"entry": 0, "exit": 0}  # orders cancelled by unfilledtimeout
        self.closed: list[Trade] = []
        self.open: dict[int, Trade] = {}

    # ---------------------------------------------------------------- helpers
    def _available(self) -> float:
        """Wallet plus realised profit (all exits of the closed trades) less the stake of
        open trades net of their partial exits' profit (Freqtrade's available stake, but
        without its loss of partial exits' profit at a trade's close)."""
        held = sum(t.stake_amount - t.realized_profit for t in self.open.values())
        return self.wallet + self.realised - held

    def _place_entry(self, tr: Trade | None, pair: str, p: int, ms: int, o: float, h: float,
                     lw: float, stake: float, tag: str, tick: int) -> Trade | None:
        rate = o
        if self.entry_limit:
            new = call_strategy(self.s, "custom_entry_price", pair, tr, _dt(ms), o, tag, "long")
            if new is not None and new != rate:
                rate = price_to_step(float(new), tick, "nearest")
            rate = min(rate, h)
        if not (rate > 0.0 and stake > 0.0):
            return tr
        amount = stake / rate
        stake = amount * rate
        if tr is None:
            if stake > self._available():
                return None
            tr = Trade(pair=pair, open_ms=ms, fee=self.fee, enter_tag=tag, tick=tick,
                       open_rate=rate, stake_amount=stake)
            tr.adjust_stop_loss(rate, self.sl, initial=True)
            self.open[p] = tr
        else:
            stake = min(stake, self._available())
            if stake <= 0.0:
                return tr
            amount = stake / rate
            self._cancel_open(tr)
        order = Order("buy", True, tag, amount, rate, ms,
                      "limit" if self.entry_limit else "market", self.fee)
        tr.orders.append(order)
        if lw <= rate <= h:
            self._fill(tr, order, ms)
        return tr

    def _cancel_open(self, tr: Trade) -> None:
        tr.orders = [x for x in tr.orders if x.filled]

    def _fill(self, tr: Trade, order: Order, ms: int) -> None:
        tr.fill(order, ms)
        if not tr.is_open:
            self.realised += tr.realized_profit
            del self.open[self._pair_index[tr.pair]]
            self.closed.append(tr)

    def _exit(self, tr: Trade, ms: int, o: float, h: float, lw: float, rate: float,
              amount: float, reason: str) -> None:
        self._cancel_open(tr)
        order = Order("sell", False, reason, amount, rate, ms,
                      "limit" if self.exit_limit else "market", self.fee)
        tr.orders.append(order)
        tr.exit_reason = reason
        if lw <= rate <= h:
            self._fill(tr, order, ms)

    # ---------------------------------------------------------------- exits
    def _check_exit(self, tr: Trade, ms: int, o: float, h: float, lw: float, c: float,
                    enter: bool, exit_: bool, exit_tag: str) -> None:
        """The exit signal first (at the open), else the rules (`trade_exit`, shared
        with the live engine)."""
        s = self.s
        signal = bool(s.use_exit_signal and exit_ and not enter)
        rule = trade_exit(s, tr, ms, o, h, lw, c, self.fee, self.tf_min, signal_first=signal)
        if signal:
            rate = o
            reason = exit_tag
            if self.exit_limit:
                new = call_strategy(s, "custom_exit_price", tr.pair, tr, _dt(ms), rate,
                                    tr.calc_profit_ratio(rate), reason)
                if new is not None and new != rate:
                    rate = price_to_step(float(new), tr.tick, "nearest")
                rate = max(rate, lw)
            self._exit(tr, ms, o, h, lw, rate, tr.amount, reason)
        elif rule is not None:
            self._exit(tr, ms, o, h, lw, rule[1], tr.amount, rule[0])

    def _adjust(self, tr: Trade, ms: int, o: float, h: float, lw: float, tick: int) -> None:
        s = self.s
        profit = tr.calc_profit_ratio(o)
        resp = call_strategy(s, "adjust_trade_position", tr, _dt(ms), o, profit, 0.0,
                             self._available(), o, o, profit, profit)
        stake, tag = (resp[0], (resp[1] if len(resp) > 1 else "") or "") if isinstance(
            resp, tuple) else (resp, "")
        if stake is None:
            return
        stake = float(stake)
        if stake > 0.0:
            limit = int(s.max_entry_position_adjustment)
            if limit < 0 or tr.nr_of_successful_entries <= limit:
                self._place_entry(tr, tr.pair, self._pair_index[tr.pair], ms, o, h, lw,
                                  stake, tag or tr.enter_tag, tr.tick)
        elif stake < 0.0:
            from engine.strategy.trade import _f, _p

            amount = abs(_f(_p(stake).mul(_p(tr.amount)).div(_p(tr.stake_amount))))
            if amount <= 0.0 or amount > tr.amount:
                return
            self._exit(tr, ms, o, h, lw, o, amount, tag or "partial_exit")

    # ---------------------------------------------------------------- the loop
    def run(self, pairs: list[str], t0_ms: int, valid: npt.NDArray[np.bool_], op: F64,
            hi: F64, lo: F64, cl: F64, el: npt.NDArray[np.bool_], xl: npt.NDArray[np.bool_],
            scale: F64, tick: npt.NDArray[np.int64], offset: npt.NDArray[np.int64],
            enter_tags: list[Any], exit_tags: list[Any], last_idx: npt.NDArray[np.int64],
            end_t: int) -> list[Trade]:
        """Simulate; returns the closed trades (force-exited ones included)."""
        self._pair_index = {s: i for i, s in enumerate(pairs)}
        n_t, n_p = valid.shape
        adjusting = bool(self.s.position_adjustment_enable)
        active = np.flatnonzero((el[:-1] & valid[1:]).any(axis=1)) + 1
        # only times where something can happen: a signal before, or an open trade
        t = 0
        ai = 0
        while t < n_t:
            if not self.open:
                if ai >= active.shape[0]:
                    break
                t = max(t, int(active[ai]))
            while ai < active.shape[0] and active[ai] <= t:
                ai += 1
            ms = t0_ms + t * self.tf_ms
            for p in range(n_p):
                if not valid[t, p]:
                    continue
                tr = self.open.get(p)
                if tr is not None and self.timeout_ms:
                    self._timeouts(tr, p, ms)
                    tr = self.open.get(p)
                o, h, lw, c = float(op[t, p]), float(hi[t, p]), float(lo[t, p]), float(cl[t, p])
                if (tr is None and t > 0 and t != end_t and valid[t - 1, p]
                        and el[t - 1, p] and not xl[t - 1, p]
                        and (self.max_open < 0 or len(self.open) < self.max_open)):
                    row = t - 1 - int(offset[p])
                    tag = _tag(enter_tags[p], row, "")
                    base = (self.stake_fixed if self.stake_pct <= 0.0
                            else self.stake_pct * (self.wallet + self.realised))
                    tr = self._place_entry(None, pairs[p], p, ms, o, h, lw,
                                           base * float(scale[t - 1, p]), tag, int(tick[t, p]))
                if tr is None:
                    continue
                eo = tr.open_order(True)
                if eo is not None and lw <= eo.price <= h:
                    self._fill(tr, eo, ms)
                if tr.is_open and tr.has_open_position:
                    if adjusting:
                        self._adjust(tr, ms, o, h, lw, int(tick[t, p]))
                    if tr.is_open:
                        row = t - 1 - int(offset[p])
                        sig_ok = t > 0 and valid[t - 1, p]
                        self._check_exit(tr, ms, o, h, lw, c,
                                         bool(sig_ok and el[t - 1, p]),
                                         bool(sig_ok and xl[t - 1, p]),
                                         _tag(exit_tags[p], row, "exit_signal"))
                xo = tr.open_order(False) if tr.is_open else None
                if xo is not None and lw <= xo.price <= h:
                    self._fill(tr, xo, ms)
            t += 1
        for p in sorted(self.open):
            tr = self.open[p]
            if tr.nr_of_successful_entries == 0:
                del self.open[p]
                continue
            t = int(last_idx[p])
            ms = t0_ms + t * self.tf_ms
            o = float(op[t, p])
            self._exit(tr, ms, o, float(hi[t, p]), float(lo[t, p]), o, tr.amount, "force_exit")
        self.closed.sort(key=lambda x: (x.open_ms, self._pair_index[x.pair]))
        return self.closed

    def _timeouts(self, tr: Trade, p: int, ms: int) -> None:
        for order in [x for x in tr.orders if not x.filled]:
            limit = self.timeout_ms.get("entry" if order.is_entry else "exit")
            # measured at the candle's close, as the reference run does: a 10-minute
            # order placed at t may fill on t and t+1 and is gone at t+2
            if limit is None or not order.placed_ms < ms + self.tf_ms - limit:
                continue
            self.timed_out["entry" if order.is_entry else "exit"] += 1
            if order.is_entry and tr.nr_of_successful_entries == 0:
                del self.open[p]
                return
            tr.orders.remove(order)
