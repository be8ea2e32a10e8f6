"""The live order path of a strategy that trades with orders (limit entries and exits,
`unfilledtimeout`, custom prices, `adjust_trade_position`): the backtester's
`engine.backtest.orders` rules, candle by candle, through proposals and real orders.

Each (bot, pair) with a trade or a working entry keeps a `Slot`
(`engine.service.orderslots`): the trade as the strategy's hooks see it, kept equal
to the database's order rows.

On the close of candle t (the backtester's candle t, then the decisions it takes at
the open of t+1, which is now):

1. working entry orders fill if candle t traded through their price;
2. the exit rules (`engine.strategy.exits.trade_exit`: stop, ROI, trailing, relative to
   the averaged open rate) on candle t; an exit signal that took t's open comes first;
3. working exit orders fill if candle t traded through their price;
4. `unfilledtimeout`: an order that would be older than its limit at the close of the
   next candle is cancelled now (the backtester's rule); a partial fill is kept;
5. the strategy runs on the history; at the next open: `adjust_trade_position`
   (more stake, or a partial exit), then an exit signal, or an entry signal. A limit
   order is priced by `custom_entry_price` / `custom_exit_price` (on the price step).

Each new order first cancels the trade's working ones (the backtester's rule). A
limit order that is marketable when placed fills at once, at its price.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmodel import col, select

from engine.data.candles import Bar, timeframe_ms
from engine.errors import ExchangeError
from engine.service.decisions import Decision, dec
from engine.service.orderslots import Slot, SlotLedger, _dt, timeouts_ms
from engine.storage.models import Bot, BotState, OrderState, Signal
from engine.storage.models import Order as OrderRow
from engine.storage.models import Trade as TradeRow
from engine.strategy.exits import trade_exit
from engine.strategy.interface import Strategy, call_strategy
from engine.strategy.runtime import RowSignal, StrategyRuntime
from engine.strategy.trade import Trade, _f, _p, price_to_step

if TYPE_CHECKING:
    from engine.service.trading import StrategyLoop

log = logging.getLogger("sentitrade.engine")
_WORKING = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


class OrderFlow(SlotLedger):
    """The order-level candle path of `StrategyLoop` (strategies whose
    ``uses_orders()`` is true)."""

    def __init__(self, loop: StrategyLoop) -> None:
        self.loop = loop
        self.eng = loop.eng
        self.slots: dict[tuple[int | None, str], Slot] = {}
        self.timed_out = {"entry": 0, "exit": 0}

    # ------------------------------------------------------------ the candle
    async def on_bar(self, bot: Bot, bar: Bar, rt: StrategyRuntime) -> Signal | None:
        if bot.state == BotState.STOPPED:
            return None
        s = rt.strategy
        tf = timeframe_ms(bar.timeframe)
        open_ms = bar.close_ms - tf
        slot = await self._slot(bot, bar)
        if slot is not None:
            await self._poll(slot, entries=True, candle=bar)
            slot = self._live(bot, bar)
        if slot is not None and slot.tr.has_open_position:
            before = slot.tr.stop_loss
            rule = trade_exit(s, slot.tr, open_ms, bar.open, bar.high, bar.low, bar.close,
                              self._fee(), tf // 60_000,
                              signal_first=slot.signal_exit_ms == open_ms)
            if rule is None and slot.tr.stop_loss != before and slot.trade_id is not None:
                self.eng.set_trade_stop(slot.trade_id, dec(slot.tr.stop_loss))  # it trailed
            if rule is not None:
                reason, rate = rule
                why = (f"{reason} at {rate:.10g} (candle low {bar.low:.10g}, high "
                       f"{bar.high:.10g})")
                await self._cancel_open(slot, f"replaced by {reason}")
                await self._place(bot, bar, slot, Decision("exit", (reason, why),
                                                           {"rate": rate}, forced=True),
                                  at_price=rate, record_signal=False)
            slot = self._live(bot, bar)
        if slot is not None:
            await self._poll(slot, entries=False, candle=bar)
            slot = self._live(bot, bar)
        if slot is not None:
            await self._timeouts(slot, s, bar.close_ms, tf)
            slot = self._live(bot, bar)
        sig = rt.evaluate(bar.symbol)
        nxt = bar.next_open if bar.next_open is not None else bar.close
        tick = bar.next_tick if bar.next_open is not None else bar.tick
        if slot is not None:
            if not slot.tr.has_open_position:
                return None  # an entry still working: nothing to decide on yet
            if s.position_adjustment_enable and bot.state == BotState.RUNNING:
                await self._adjust(bot, bar, slot, s, nxt, tick)
                slot = self._live(bot, bar)
            if (slot is not None and slot.tr.has_open_position and sig.exit_long
                    and not sig.enter_long):
                return await self._exit_signal(bot, bar, slot, rt, sig, nxt)
            return None
        d = self.loop._decide(rt, sig, None, bot)
        if d is None:
            return None
        return await self._enter(bot, bar, rt, d, nxt, tick)

    def _live(self, bot: Bot, bar: Bar) -> Slot | None:
        return self.slots.get((bot.id, bar.symbol))

    # ------------------------------------------------------------ decisions
    async def _enter(self, bot: Bot, bar: Bar, rt: StrategyRuntime, d: Decision, nxt: float,
                     tick: int) -> Signal | None:
        s = rt.strategy
        tag = d.reasons[0]
        rate, limit = nxt, None
        if s.order_types.get("entry", "market") == "limit":
            new = call_strategy(s, "custom_entry_price", bar.symbol, None, _dt(bar.close_ms),
                                nxt, tag, "long")
            if new is not None and new != rate:
                rate = price_to_step(float(new), tick, "nearest")
            limit = rate
        tr = Trade(pair=bar.symbol, open_ms=bar.close_ms, fee=self._fee(), enter_tag=tag,
                   tick=tick, open_rate=rate)
        sl = s.stoploss
        tr.adjust_stop_loss(rate, float(sl) if sl is not None and float(sl) > -1.0 else None,
                            initial=True)
        slot = Slot(tr, timeframe_ms(bar.timeframe))
        self.slots[(bot.id, bar.symbol)] = slot
        sig = await self._place(bot, bar, slot, replace(d, limit=limit), at_price=nxt,
                                record_signal=True)
        if not slot.orders:  # blocked, waiting for a person, or refused: no trade yet
            self.slots.pop((bot.id, bar.symbol), None)
        return sig

    async def _adjust(self, bot: Bot, bar: Bar, slot: Slot, s: Strategy, nxt: float,
                      tick: int) -> None:
        """Freqtrade's ``adjust_trade_position`` at the next open (current rate = it)."""
        tr = slot.tr
        profit = tr.calc_profit_ratio(nxt)
        avail = self._available(bar.symbol)
        resp = call_strategy(s, "adjust_trade_position", tr, _dt(bar.close_ms), nxt, profit,
                             0.0, avail, nxt, nxt, profit, profit)
        stake, tag = (resp[0], (resp[1] if len(resp) > 1 else "") or "") if isinstance(
            resp, tuple) else (resp, "")
        if stake is None:
            return
        stake = float(stake)
        if stake > 0.0:
            most = int(s.max_entry_position_adjustment)
            if not (most < 0 or tr.nr_of_successful_entries <= most):
                return
            rate, limit = nxt, None
            tag = tag or tr.enter_tag
            if s.order_types.get("entry", "market") == "limit":
                new = call_strategy(s, "custom_entry_price", tr.pair, tr, _dt(bar.close_ms),
                                    nxt, tag, "long")
                if new is not None and new != rate:
                    rate = price_to_step(float(new), tick, "nearest")
                limit = rate
            if not rate > 0.0:
                return
            st = min((stake / rate) * rate, avail)
            if st <= 0.0:
                return
            d = Decision("long", (tag, f"{s.name} adjust_trade_position: +{st:.8g} stake at "
                                  f"{rate:.10g}"), {}, limit=limit, amount=st / rate,
                         trade_id=slot.trade_id)
        elif stake < 0.0:
            amount = abs(_f(_p(stake).mul(_p(tr.amount)).div(_p(tr.stake_amount))))
            if amount <= 0.0 or amount > tr.amount:
                return
            limit = nxt if s.order_types.get("exit", "market") == "limit" else None
            # the whole position (the backtester closes the trade): sell what the trade
            # row holds. The slot's float sum of the fills can exceed the wallet's exact
            # holding by float noise, and the broker refuses to sell more than is held.
            whole = amount >= tr.amount
            d = Decision("exit", (tag or "partial_exit", f"{s.name} adjust_trade_position: "
                                  f"sell {amount:.8g} at {nxt:.10g}"), {}, limit=limit,
                         amount=None if whole else amount)
        else:
            return
        await self._cancel_open(slot, "replaced by a position adjustment")
        await self._place(bot, bar, slot, d, at_price=nxt, record_signal=False)

    async def _exit_signal(self, bot: Bot, bar: Bar, slot: Slot, rt: StrategyRuntime,
                           sig: RowSignal, nxt: float) -> Signal | None:
        s, tr = rt.strategy, slot.tr
        reason = sig.exit_tag
        rate, limit = nxt, None
        if s.order_types.get("exit", "market") == "limit":
            new = call_strategy(s, "custom_exit_price", tr.pair, tr, _dt(bar.close_ms), rate,
                                tr.calc_profit_ratio(rate), reason)
            if new is not None and new != rate:
                rate = price_to_step(float(new), tr.tick, "nearest")
            limit = rate
        await self._cancel_open(slot, f"replaced by {reason}")
        slot.signal_exit_ms = bar.close_ms
        d = Decision("exit", (reason, self.loop._why(s.name, "exit", sig)), sig.inputs,
                     limit=limit)
        return await self._place(bot, bar, slot, d, at_price=nxt, record_signal=True)

    # ------------------------------------------------------------ orders
    async def _place(self, bot: Bot, bar: Bar, slot: Slot, d: Decision, *, at_price: float,
                     record_signal: bool) -> Signal | None:
        """Proposal -> order through the loop's one path (risk, approvals); the orders
        it made join the slot, a marketable limit fills at once."""
        trade = None
        if slot.trade_id is not None:
            with self.eng.sessions() as s:
                trade = s.get(TradeRow, slot.trade_id)
        before = self._max_order_id()
        sig = await self.loop._act(bot, bar, trade, d, at_price=at_price,
                                   record_signal=record_signal)
        rows = self._new_orders(bot, bar.symbol, before, slot.trade_id)
        self._adopt(slot, rows)
        await self._poll(slot, ids=[r.id for r, _ in rows if r.id is not None])
        return sig

    async def _poll(self, slot: Slot, *, entries: bool | None = None,
                    ids: list[int] | None = None, candle: Bar | None = None) -> None:
        """Ask the broker about the slot's working orders (of one side) and book news:
        the paper broker fills a limit the current quote crossed (`candle`: the range
        of the candle that closed; right after a placement: the price now). On a candle,
        only an order whose price lies inside its range is asked about (the
        backtester's fill rule: a buy above the whole candle did not fill on it)."""
        eng = self.eng
        want = [i for i, o in slot.orders.items() if not o.filled
                and (entries is None or o.is_entry == entries) and (ids is None or i in ids)]
        if not want:
            return
        with eng.sessions() as s:
            rows = s.exec(select(OrderRow).where(col(OrderRow.id).in_(want))
                          .order_by(col(OrderRow.id))).all()
        for row in rows:
            if row.state not in _WORKING or row.id is None:
                continue
            if candle is not None and row.price is not None and not (
                    candle.low <= float(row.price) <= candle.high):
                continue
            try:
                res = await eng.broker.fetch_order(row)
            except ExchangeError as e:
                eng._api_error(e)
                continue
            if res is not None and (res.fills or res.status != "open"):
                if candle is not None and res.fills:
                    slot.range_ids.add(row.id)
                eng.execution.book(row.id, res)
        self._refresh(slot)

    async def _cancel_open(self, slot: Slot, reason: str) -> None:
        open_ids = [oid for oid, mo in slot.orders.items() if not mo.filled]
        for oid in open_ids:
            await self.eng.execution.cancel(oid, reason)
        if open_ids:
            self._refresh(slot)

    async def _timeouts(self, slot: Slot, s: Strategy, now_ms: int, tf: int) -> None:
        """`unfilledtimeout`: cancel what would be older than its limit at the next
        close (the backtester measures at the candle's close)."""
        limits = timeouts_ms(s)
        if not limits:
            return
        n = 0
        for oid, mo in list(slot.orders.items()):
            side = "entry" if mo.is_entry else "exit"
            limit = limits.get(side)
            if mo.filled or limit is None or not mo.placed_ms < now_ms + tf - limit:
                continue
            await self.eng.execution.cancel(oid, f"unfilledtimeout: {side} order not filled "
                                                 f"within {limit // 60_000} min")
            self.timed_out[side] += 1
            n += 1
        if n:
            self._refresh(slot)

    # ------------------------------------------------------------ the slot <-> the DB
    async def _slot(self, bot: Bot, bar: Bar) -> Slot | None:
        key = (bot.id, bar.symbol)
        slot = self.slots.get(key)
        if slot is not None:
            rows = self._new_orders(bot, bar.symbol, slot.last_order_id, slot.trade_id)
            if rows:  # placed by someone else (a decision from the chat)
                self._adopt(slot, rows)
            return self.slots.get(key)
        t = self.eng.holding(bot.id, bar.symbol)
        if t is None and not self.eng.view().working:
            return None
        return self._rebuild(bot, bar, t)
