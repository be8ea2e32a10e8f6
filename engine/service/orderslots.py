"""The slots of the live order path (`engine.service.orderflow`): each (bot, pair)
with a trade or a working entry, the trade as the strategy's hooks see it
(`engine.strategy.trade.Trade`, Freqtrade's accounting) with one order per database
order row.

The database stays the truth: a slot is refreshed from its order rows after every
booking (an order a person approved from the chat joins it the same way), rebuilt
from them after a restart, and writes Freqtrade's numbers (the averaged open rate, the
stake, the realised profit) back to the trade row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import or_
from sqlmodel import col, func, select

from engine.data.candles import Bar, timeframe_ms
from engine.execution.orders import ACTIVE
from engine.service.decisions import dec
from engine.storage.models import Balance, Bot, Fill, Proposal
from engine.storage.models import Order as OrderRow
from engine.storage.models import Trade as TradeRow
from engine.strategy.interface import Strategy
from engine.strategy.trade import Order, Trade

if TYPE_CHECKING:
    from engine.service.engine import Engine
    from engine.service.trading import StrategyLoop

RULES = ("stop_loss", "roi", "trailing_stop_loss")
DUST = 1e-12  # value (quote) below which a remainder is float noise


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def timeouts_ms(strategy: Strategy) -> dict[str, int]:
    """The strategy's ``unfilledtimeout`` per side, in ms."""
    to = dict(strategy.unfilledtimeout)
    unit = {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000}[
        str(to.get("unit", "minutes"))]
    return {k: int(float(to[k]) * unit) for k in ("entry", "exit") if k in to}


@dataclass(slots=True)
class Slot:
    """One pair's trade of one bot, its orders linked to their database rows."""

    tr: Trade
    tf_ms: int
    orders: dict[int, Order] = field(default_factory=dict)  # order row id -> order
    trade_id: int | None = None
    signal_exit_ms: int | None = None  # the open an exit signal took
    range_ids: set[int] = field(default_factory=set)  # orders filled on a closed candle
    last_order_id: int = 0


class SlotLedger:
    """The slots and their database rows; a base of `OrderFlow`."""

    eng: Engine
    loop: StrategyLoop
    slots: dict[tuple[int | None, str], Slot]

    def _fee(self) -> float:
        return float(self.eng.settings.exchange.taker_fee)

    def _max_order_id(self) -> int:
        with self.eng.sessions() as s:
            return int(s.exec(select(func.max(OrderRow.id))).one() or 0)

    def _new_orders(self, bot: Bot, symbol: str, after: int, trade_id: int | None
                    ) -> list[tuple[OrderRow, str]]:
        with self.eng.sessions() as s:
            q = (select(OrderRow, Proposal.reasons)
                 .join(Proposal, col(Proposal.id) == OrderRow.proposal_id, isouter=True)
                 .where(OrderRow.bot_id == bot.id, OrderRow.symbol == symbol,
                        col(OrderRow.id) > after))
            rows = s.exec(q.order_by(col(OrderRow.id))).all()
        out = []
        for row, reasons in rows:
            if row.trade_id is not None and row.trade_id != trade_id:
                continue
            out.append((row, str(reasons[0]) if reasons else row.side))
        return out

    def _adopt(self, slot: Slot, rows: list[tuple[OrderRow, str]]) -> None:
        for row, tag in rows:
            if row.id is None or row.id in slot.orders:
                continue
            price = row.price if row.price is not None else row.average_price
            mo = Order(row.side, row.side == "buy", tag, float(row.amount),
                       float(price) if price is not None else 0.0, _ms(row.created_at),
                       row.type, self._fee())
            slot.tr.orders.append(mo)
            slot.orders[row.id] = mo
            slot.last_order_id = max(slot.last_order_id, row.id)
            if not mo.is_entry:
                slot.tr.exit_reason = tag
        self._refresh(slot, changed=bool(rows))

    def _rebuild(self, bot: Bot, bar: Bar, t: TradeRow | None) -> Slot | None:
        """The slot from the database (after a restart, or a trade opened from the
        chat): the trade's orders replayed in order, its stored stop kept."""
        with self.eng.sessions() as s:
            q = select(OrderRow).where(OrderRow.bot_id == bot.id, OrderRow.symbol == bar.symbol)
            unlinked = col(OrderRow.trade_id).is_(None) & col(OrderRow.state).in_(list(ACTIVE))
            q = q.where(or_(col(OrderRow.trade_id) == t.id, unlinked)) if t is not None \
                else q.where(unlinked)
            first = s.exec(q.order_by(col(OrderRow.id))).first()
        if first is None:
            return None
        rt = self.loop.runtime(bot)
        sl = rt.strategy.stoploss
        rate = float(first.price or first.average_price or 0.0)
        tr = Trade(pair=bar.symbol, open_ms=_ms(t.open_at if t is not None else first.created_at),
                   fee=self._fee(), enter_tag="", tick=bar.tick, open_rate=rate)
        tr.adjust_stop_loss(rate, float(sl) if sl is not None and float(sl) > -1.0 else None,
                            initial=True)
        slot = Slot(tr, timeframe_ms(bar.timeframe), trade_id=t.id if t is not None else None)
        self.slots[(bot.id, bar.symbol)] = slot
        self._adopt(slot, self._new_orders(bot, bar.symbol, first.id - 1 if first.id else 0,
                                           slot.trade_id))
        if slot.tr.orders:
            slot.tr.enter_tag = slot.tr.orders[0].tag
        stored = float(t.stop_price) if t is not None and t.stop_price is not None else None
        if stored is not None and stored > tr.stop_loss:
            tr.stop_loss, tr.is_stop_loss_trailing = stored, True
        # fills before this candle were told to custom_stoploss before a restart: asking
        # again (after_fill may lower the stop) would undo the stored stop
        bar_open = bar.close_ms - timeframe_ms(bar.timeframe)
        tr.stop_fills_seen = sum(1 for o in tr.select_filled_orders()
                                 if o.filled_ms is not None and o.filled_ms < bar_open)
        return self.slots.get((bot.id, bar.symbol))

    def _refresh(self, slot: Slot, *, changed: bool = False) -> None:
        """Apply the rows' fills and cancellations to the slot's trade, then write
        Freqtrade's numbers (averaged open rate, stake, realised profit) to the row."""
        eng = self.eng
        ids = [i for i, o in slot.orders.items() if not o.filled]
        if ids:
            with eng.sessions() as s:
                rows = s.exec(select(OrderRow).where(col(OrderRow.id).in_(ids))
                              .order_by(col(OrderRow.id))).all()
                last = dict(s.exec(select(Fill.order_id, func.max(Fill.ts))
                                   .where(col(Fill.order_id).in_(ids))
                                   .group_by(col(Fill.order_id))).all())
            tf = slot.tf_ms
            for row in rows:
                assert row.id is not None
                mo = slot.orders[row.id]
                if row.state in ACTIVE:
                    continue
                changed = True
                if row.filled > 0 and row.average_price is not None:
                    mo.amount = float(row.filled)
                    mo.price = float(row.average_price)
                    at = _ms(last.get(row.id) or row.updated_at)
                    # a fill seen at a candle's close happened inside that candle: the
                    # backtester stamps it with the candle's open
                    if row.id in slot.range_ids or mo.tag in RULES:
                        at -= tf
                    before = (slot.tr.open_rate, slot.tr.amount, slot.tr.stake_amount)
                    slot.tr.fill(mo, at)
                    if not slot.tr.is_open and slot.tr.amount * slot.tr.open_rate < DUST:
                        # the float sums left a remainder the wallet never held (it sold
                        # what it holds): the trade keeps its numbers before the exit
                        slot.tr.open_rate, slot.tr.amount, slot.tr.stake_amount = before
                    if mo.is_entry and slot.trade_id is None:
                        slot.trade_id = row.trade_id
                else:
                    slot.tr.orders.remove(mo)
                    del slot.orders[row.id]
        key = next((k for k, v in self.slots.items() if v is slot), None)
        if changed and slot.trade_id is not None:
            self._write(slot)
        done = (not slot.tr.is_open) or (slot.tr.nr_of_successful_entries == 0
                                         and not slot.tr.has_open_orders)
        if done and key is not None:
            del self.slots[key]

    def _write(self, slot: Slot) -> None:
        tr = slot.tr
        if tr.nr_of_successful_entries == 0:
            return
        with self.eng.sessions.begin() as s:
            t = s.get(TradeRow, slot.trade_id)
            if t is None:
                return
            t.open_price = dec(tr.open_rate)
            t.stake = dec(tr.stake_amount)
            t.open_at = _dt(tr.open_ms)
            if tr.stop_loss:
                t.stop_price = dec(tr.stop_loss)
            if tr.nr_of_successful_exits:
                t.realized_pnl = Decimal(f"{tr.realized_profit:.8f}")
            if not t.is_open:
                t.amount = dec(tr.amount)  # Freqtrade's: the amount before the final exit
                t.pnl_ratio = tr.close_profit
                t.exit_reason = (tr.exit_reason or t.exit_reason or "exit")[:32]
        self.eng.execution.version += 1  # the engine's cached view reads trades again

    def _available(self, symbol: str) -> float:
        """The quote currency free to spend (Freqtrade's ``max_stake``)."""
        quote = symbol.split("/")[1].split(":")[0]
        with self.eng.sessions() as s:
            row = s.exec(select(Balance).where(Balance.account == self.eng.broker.account,
                                               Balance.asset == quote)).first()
        return float(row.free) if row is not None else 0.0
