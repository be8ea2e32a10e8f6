"""TWAP/VWAP execution: the engine side of `engine.execution.algos`. A mixin of
`engine.service.engine.Engine`.

Each slice is an ordinary order: a proposal approved by the algo's owner (the same
proposal -> order path as `/forceexit`), risk-checked before it is sent, booked by
`ExecutionEngine`, and linked to its parent by `orders.algo_id`. The parent
(`AlgoOrder`) is committed before its first slice, and every slice updates it in the
transaction that creates the slice's order, so after a crash the DB says exactly what
was sent; `resume_algos` at start continues a running algo (missed slices catch up
in one order) or, when its window has passed, closes it with its report.

An algo stops (state `stopped`, final report) when a circuit breaker halts trading
(or pauses entries, for a buying algo), the exchange is paused after API errors, or
the bot it runs for is paused or stopped; `cancel_algo` stops it on request.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from engine.data.candles import timeframe_ms
from engine.errors import RiskRejected, SentitradeError
from engine.events import RECORDED, record
from engine.execution.algos import (
    AlgoFinished,
    AlgoProgress,
    AlgoSpec,
    AlgoStarted,
    blocked_by_limit,
    cumulative_target,
    due_count,
    normalize,
    position_for,
    slippage_bps,
    twap_weights,
    volume_profile,
)
from engine.execution.approvals import ProposalTrigger, transition
from engine.execution.orders import ACTIVE
from engine.risk.checks import (
    PRE_TRADE_CHECKS,
    Intent,
    check_exchange_minimums,
    check_open_trades,
    check_trades_per_day,
    pre_trade,
)
from engine.state import EngineState
from engine.storage.models import AlgoOrder, Bot, BotState, Order, Proposal, ProposalState, Trade

log = logging.getLogger("sentitrade.algos")
RUNNING = "running"
_GROWING = tuple(c for c in PRE_TRADE_CHECKS if c not in (check_open_trades,
                                                          check_trades_per_day,
                                                          check_exchange_minimums))
_FIRST = tuple(c for c in PRE_TRADE_CHECKS if c is not check_exchange_minimums)


class AlgoDesk(EngineState):
    """Start, step, cancel, list and resume execution algos."""

    # ------------------------------------------------------------ public API
    async def start_algo(self, spec: AlgoSpec, by: str, *, bot: str | None = None,
                         trade_id: int | None = None) -> AlgoOrder:
        """Risk-check the whole order at the arrival price, persist the parent, send the
        first slice. A buy opens (or, with `trade_id`, grows) a position; a sell exits
        `trade_id` (default: the open position on the symbol)."""
        try:
            spec.validate()
        except ValueError as e:
            raise SentitradeError(str(e)) from None
        if self.market(spec.symbol) is None:
            raise SentitradeError(f"unknown market {spec.symbol}")
        q = self.quotes.get(spec.symbol)
        if q is None:
            raise SentitradeError(f"no price for {spec.symbol} yet: try after the next candle")
        now = self.clock.now()
        weights = self._weights(spec, now)
        bot_row = self._algo_bot(spec.symbol, bot)
        with self.sessions.begin() as s:
            trade = position_for(s, spec, bot_row.id if bot_row else None, trade_id)
            intent = "exit" if spec.side == "sell" else "enter"
            ctx = self.risk_context(s, spec.symbol)
            checks = _GROWING if trade is not None and intent == "enter" else _FIRST
            reason = pre_trade(Intent(spec.symbol, spec.side, intent, spec.amount, q.last), ctx,
                               self.settings.risk, checks)
            if reason is not None:
                raise RiskRejected(f"{spec.kind.upper()} refused by risk: {reason}")
            a = AlgoOrder(kind=spec.kind, bot_id=bot_row.id if bot_row else None,
                          trade_id=trade.id if trade else None, symbol=spec.symbol,
                          side=spec.side, intent=intent, amount=spec.amount,
                          limit_price=spec.limit, slices=spec.slices, weights=weights,
                          duration_s=int(spec.duration.total_seconds()), started_at=now,
                          arrival_price=q.last, state=RUNNING, created_by=by[:64],
                          updated_at=now)
            s.add(a)
            s.flush()
            record(s, AlgoStarted(ts_event=now, algo_id=a.id or 0, algo=a.kind, symbol=a.symbol,
                                  side=a.side, amount=a.amount, slices=a.slices,
                                  ends_at=now + spec.duration, arrival_price=a.arrival_price,
                                  limit=a.limit_price, by=by))
            algo_id = a.id or 0
        await self._step_one(algo_id)
        return self.get_algo(algo_id)

    def get_algo(self, algo_id: int) -> AlgoOrder:
        with self.sessions() as s:
            a = s.get(AlgoOrder, algo_id)
        if a is None:
            raise SentitradeError(f"no algo a{algo_id}: /algos lists the running ones")
        return a

    def algos(self, active_only: bool = True) -> list[AlgoOrder]:
        """Running algos (every one, newest first, when `active_only` is False)."""
        with self.sessions() as s:
            q = select(AlgoOrder)
            if active_only:
                return list(s.exec(q.where(AlgoOrder.state == RUNNING)
                                   .order_by(col(AlgoOrder.id))).all())
            return list(s.exec(q.order_by(col(AlgoOrder.id).desc()).limit(50)).all())

    def algo_slices(self, algo_id: int) -> list[Order]:
        with self.sessions() as s:
            return list(s.exec(select(Order).where(Order.algo_id == algo_id)
                               .order_by(col(Order.id))).all())

    async def cancel_algo(self, algo_id: int, by: str) -> AlgoOrder:
        """Stop sending slices, cancel the working ones, report what was done."""
        a = self.get_algo(algo_id)
        if a.state != RUNNING:
            raise SentitradeError(f"algo a{algo_id} is already {a.state}")
        await self._finish(algo_id, "canceled", f"canceled by {by}")
        return self.get_algo(algo_id)

    async def step_algos(self) -> int:
        """Send every slice that is due (each tick, and every few seconds when serving);
        returns how many algos were looked at."""
        lock: asyncio.Lock = self.__dict__.setdefault("_algo_lock", asyncio.Lock())
        if lock.locked():
            return 0  # a step is already running: it sees the same schedule
        if self.__dict__.get("_algos_idle") == RECORDED[0]:
            return 0  # none running, and nothing recorded since (a start records one)
        async with lock:
            ids = [a.id or 0 for a in self.algos()]
            if not ids:
                self.__dict__["_algos_idle"] = RECORDED[0]
            for algo_id in ids:
                try:
                    await self._step_one(algo_id)
                except SentitradeError as e:
                    log.warning("algo a%s: %s", algo_id, e)
                    await self._finish(algo_id, "stopped", str(e)[:200])
            return len(ids)

    async def resume_algos(self) -> list[str]:
        """At start: continue the running algos whose window is still open, close the
        others with their report (a restart never sends a stale schedule at once)."""
        now = self.clock.now()
        notes: list[str] = []
        for a in self.algos():
            end = a.started_at + timedelta(seconds=a.duration_s)
            grace = timedelta(seconds=a.duration_s / max(a.slices, 1))
            if now > end + grace:
                await self._finish(a.id or 0, "expired", "the service was down past its end")
                notes.append(f"a{a.id}: expired")
            else:
                with self.sessions.begin() as s:
                    self._progress(s, a, a.slices_done, "resumed after a restart")
                notes.append(f"a{a.id}: resumed at slice {a.slices_done}/{a.slices}")
        return notes

    # ------------------------------------------------------------ the schedule
    async def _step_one(self, algo_id: int) -> None:
        a = self.get_algo(algo_id)
        if a.state != RUNNING:
            return
        self._sync_fills(algo_id)
        a = self.get_algo(algo_id)
        stop = self._stop_reason(a)
        if stop is not None:
            await self._finish(algo_id, "stopped", stop)
            return
        now = self.clock.now()
        duration = timedelta(seconds=a.duration_s)
        due = due_count(a.started_at, duration, a.slices, now)
        if due <= a.slices_done:
            if a.slices_done >= a.slices and not self._working(algo_id):
                await self._finish(algo_id, "done", self._done_note(a))
            return
        try:
            await self._send_slice(a, due)
        except SentitradeError as e:
            await self._finish(algo_id, "stopped", str(e)[:200])
            return
        if due >= a.slices and not self._working(algo_id):
            await self._finish(algo_id, "done", self._done_note(self.get_algo(algo_id)))

    async def _send_slice(self, a: AlgoOrder, due: int) -> None:
        """One order for everything the schedule wants sent by schedule point `due`."""
        q = self.quotes.get(a.symbol)
        price = q.last if q is not None else a.arrival_price
        m = self.market(a.symbol)
        note = ""
        order_id: int | None = None
        async with self._lock:
            with self.sessions.begin() as s:
                row = s.get(AlgoOrder, a.id)
                assert row is not None
                if row.state != RUNNING or row.slices_done >= due:
                    return
                committed = sum((o.filled if o.state not in ACTIVE else o.amount
                                 for o in s.exec(select(Order).where(Order.algo_id == a.id))),
                                Decimal(0))
                want = cumulative_target(row.amount, row.weights, due) - committed
                if row.side == "sell" and row.trade_id is not None:
                    t = s.get(Trade, row.trade_id)
                    want = min(want, t.amount if t is not None and t.is_open else Decimal(0))
                amount = m.round_amount(want) if m is not None and want > 0 else want
                skipped_from = row.slices_done
                row.slices_done = due
                row.updated_at = self.clock.now()
                if blocked_by_limit(row.side, price, row.limit_price):
                    row.skipped += due - skipped_from
                    rel = "above" if row.side == "buy" else "below"
                    note = f"price {price} {rel} the limit {row.limit_price}: slice held back"
                elif amount <= 0 or check_exchange_minimums(
                        Intent(a.symbol, a.side, a.intent, amount, price),
                        self.risk_context(s, a.symbol), self.settings.risk) is not None:
                    note = "below the exchange minimum: merged into the next slice"
                    if due >= row.slices and amount > 0:
                        note = "the rest is below the exchange minimum: left unfilled"
                else:
                    checks = _GROWING if (row.trade_id is not None or row.slices_sent) else _FIRST
                    reason = pre_trade(Intent(a.symbol, a.side, a.intent, amount, price),
                                       self.risk_context(s, a.symbol), self.settings.risk, checks)
                    if reason is not None:
                        raise RiskRejected(f"risk refused slice {due}: {reason}")
                    order_id = self._slice_order(s, row, amount, price, due)
                    row.slices_sent += 1
                if note:
                    self._progress(s, row, due, note)
            if order_id is not None:
                await self.execution.submit(order_id)
        if order_id is not None:
            self._sync_fills(a.id or 0)
            with self.sessions.begin() as s:
                row = s.get(AlgoOrder, a.id)
                assert row is not None
                if _milestone(due, row.slices):
                    self._progress(s, row, due, "")

    def _slice_order(self, s: Session, a: AlgoOrder, amount: Decimal, price: Decimal,
                     due: int) -> int:
        now = self.clock.now()
        p = Proposal(bot_id=a.bot_id, trade_id=a.trade_id, symbol=a.symbol, side=a.side,
                     intent=a.intent, amount=amount, ref_price=price,
                     notional=(amount * price).quantize(Decimal("0.01")),
                     reasons=[f"{a.kind} a{a.id} slice {due}/{a.slices}"],
                     state=ProposalState.PENDING, created_at=now,
                     expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        transition(s, p, ProposalTrigger.APPROVE, by=a.created_by or "algo", at=now,
                   note=f"{a.kind} a{a.id}")
        o = self.execution.create_order_row(s, p, amount=amount)
        o.algo_id = a.id
        s.flush()
        assert o.id is not None
        return o.id

    def _sync_fills(self, algo_id: int) -> None:
        """Parent's filled/average from its slices; adopt the trade the first fill opened."""
        with self.sessions.begin() as s:
            a = s.get(AlgoOrder, algo_id)
            assert a is not None
            orders = s.exec(select(Order).where(Order.algo_id == algo_id)).all()
            filled = sum((o.filled for o in orders), Decimal(0))
            value = sum((o.filled * (o.average_price or 0) for o in orders), Decimal(0))
            a.filled = filled
            a.average_price = (value / filled).quantize(Decimal("0.00000001")) if filled else None
            if a.trade_id is None:
                a.trade_id = next((o.trade_id for o in orders if o.trade_id), None)
            if a.trade_id is not None:  # /order TRADE lists every slice, failed ones too
                for o in orders:
                    o.trade_id = o.trade_id or a.trade_id

    def _working(self, algo_id: int) -> bool:
        with self.sessions() as s:
            return s.exec(select(Order).where(Order.algo_id == algo_id,
                                              col(Order.state).in_(list(ACTIVE)))).first() \
                is not None

    def _stop_reason(self, a: AlgoOrder) -> str | None:
        with self.sessions() as s:
            ctx = self.risk_context(s, a.symbol)
            bot = s.get(Bot, a.bot_id) if a.bot_id else None
            trade = s.get(Trade, a.trade_id) if a.trade_id else None
        if (a.intent == "exit" and a.slices_done < a.slices
                and (trade is None or not trade.is_open)):
            return f"trade #{a.trade_id} was closed by something else"
        if ctx.exchange_paused:
            return "exchange paused after too many API errors"
        if ctx.trading_state == "halted":
            return "trading halted by a circuit breaker"
        if ctx.trading_state == "reducing" and a.intent == "enter":
            return "new entries paused by a circuit breaker"
        if bot is not None and bot.state != BotState.RUNNING:
            return f"bot {bot.name} is {bot.state}"
        return None

    @staticmethod
    def _done_note(a: AlgoOrder) -> str:
        return f"{a.skipped} slice(s) held back at the limit" if a.skipped else ""

    async def _finish(self, algo_id: int, state: str, reason: str) -> None:
        """Close the parent: cancel working slices, book the final report."""
        with self.sessions.begin() as s:
            a = s.get(AlgoOrder, algo_id)
            if a is None or a.state != RUNNING:
                return
            a.state = state  # first: no step sends another slice from here on
            a.note = reason[:512] or None
            a.finished_at = a.updated_at = self.clock.now()
        for o in self.algo_slices(algo_id):
            if o.state in ACTIVE and state != "done":
                await self.execution.cancel(o.id or 0, f"algo a{algo_id} {state}")
        self._sync_fills(algo_id)
        with self.sessions.begin() as s:
            a = s.get(AlgoOrder, algo_id)
            assert a is not None
            record(s, AlgoFinished(ts_event=self.clock.now(), algo_id=algo_id, algo=a.kind,
                                   symbol=a.symbol, side=a.side, state=state, filled=a.filled,
                                   amount=a.amount, average_price=a.average_price,
                                   arrival_price=a.arrival_price,
                                   slippage_bps=slippage_bps(a.side, a.average_price,
                                                             a.arrival_price),
                                   slices_sent=a.slices_sent, slices=a.slices, reason=reason))
        log.info("algo a%s %s: %s", algo_id, state, reason)

    def _progress(self, s: Session, a: AlgoOrder, step: int, note: str) -> None:
        record(s, AlgoProgress(ts_event=self.clock.now(), algo_id=a.id or 0, algo=a.kind,
                               symbol=a.symbol, side=a.side, step=step, slices=a.slices,
                               filled=a.filled, amount=a.amount, average_price=a.average_price,
                               note=note))

    # ------------------------------------------------------------ set-up helpers
    def _weights(self, spec: AlgoSpec, now: datetime) -> list[float]:
        if spec.kind == "twap":
            return twap_weights(spec.slices)
        if spec.weights is not None:
            return normalize(spec.weights)
        best: tuple[int, Any] | None = None
        for b in self.bots.all():  # the symbol's shortest timeframe with candles
            buf = self.strategies.runtime(b).buffers.get(spec.symbol)
            if buf is None or not buf.n:
                continue
            tf = timeframe_ms(b.timeframe)
            if best is None or tf < best[0]:
                best = (tf, buf)
        if best is not None:
            tf, buf = best
            prof = volume_profile(now, spec.duration, spec.slices,
                                  buf.column("close_time")[: buf.n],
                                  buf.column("volume")[: buf.n], tf)
            if prof is not None:
                return prof
        log.info("VWAP on %s: no candle history, equal slices", spec.symbol)
        return twap_weights(spec.slices)

    def _algo_bot(self, symbol: str, name: str | None) -> Bot | None:
        """The bot an algo runs for: the one named (a strategy's own algo), else the
        running bot that trades the symbol (its position is the bot's, as a forced
        entry's is); pausing or stopping that bot stops the algo. None: a trader's own
        order that no bot owns."""
        if name is not None:
            return self.bots.get(name)
        return next((b for b in self.bots.all()
                     if symbol in b.symbols and b.state == BotState.RUNNING), None)


def _milestone(step: int, n: int) -> bool:
    """Progress alerts at each quarter of the schedule (every slice when n <= 4)."""
    return n <= 4 or step == n or (4 * step) // n != (4 * (step - 1)) // n
