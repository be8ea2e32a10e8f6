"""Live fills as they happen: the exchange's user-data streams (ccxt.pro `watch_orders`,
`watch_balance`) booked through `ExecutionEngine.book`.

REST polling (`poll_open` each tick, `reconcile` each minute) stays: it is the fallback
while a stream is down and the check that nothing was missed. The two can report the
same fill, so a streamed order update is turned into exactly the fill the REST broker
(`engine.execution.ccxt_broker`) would derive from the same exchange state: the
cumulative filled amount and quote cost minus what the database has booked, keyed
``<exchange id>:<booked>-><filled>``. Whichever path reports a state first books it;
the other finds the key (or a zero delta) and books nothing.

An order still PENDING_CREATE is left to its `submit`: the REST answer to the create
call is on its way and would derive its fill from zero, so a streamed partial booked
first would be counted twice. Updates for orders that are not ours (placed by hand)
are ignored here; reconciliation alerts them as orphans.

Each stream reconnects on its own with the market streams' backoff and jitter; every
failure counts toward the API-error breaker, and after a reconnect the working orders
are polled over REST at once, so a fill made while the line was down is booked without
waiting for the next tick. `watch_my_trades` is not needed: Binance's executionReport
carries the cumulative state the booking is derived from, and per-trade keys would not
match the REST broker's cumulative ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from sqlmodel import select

from engine.clock import ms_to_dt
from engine.data.stream import Backoff
from engine.execution.broker import BrokerFill, BrokerOrder, balance_row
from engine.execution.engine import ExecutionEngine
from engine.execution.orders import TERMINAL
from engine.storage.models import Order, OrderState

log = logging.getLogger("sentitrade.userstream")
_STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
           "expired": "canceled", "rejected": "rejected"}
_Q8 = Decimal("0.00000001")


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v not in (None, "") else Decimal(0)


def order_update(raw: dict[str, Any], booked: Decimal, booked_avg: Decimal | None, *,
                 taker_fee: Decimal, quote: str) -> BrokerOrder:
    """The exchange's view of one of our orders from a streamed ccxt order: the fill
    since `booked` (the database's filled amount), keyed as the REST broker keys it.
    The fee is the exchange's commission when this update is the whole delta (one
    trade), else the taker fee on the delta's cost (updates were missed in between)."""
    info = raw.get("info") or {}
    filled = _dec(raw.get("filled"))
    cost = raw.get("cost")
    total_cost = _dec(cost) if cost is not None else filled * _dec(raw.get("average"))
    status = _STATUS.get(str(raw.get("status")), "open")
    eid = str(raw["id"]) if raw.get("id") is not None else None
    fills: tuple[BrokerFill, ...] = ()
    delta = filled - booked
    if delta > 0:
        delta_cost = total_cost - (booked_avg or Decimal(0)) * booked
        price = (delta_cost / delta).quantize(_Q8)
        fee = (delta_cost * taker_fee).quantize(_Q8)
        currency = quote
        if info.get("n") is not None and _dec(info.get("l")) == delta:
            fee, currency = _dec(info["n"]), str(info.get("N") or quote)
        ts = raw.get("lastTradeTimestamp") or raw.get("lastUpdateTimestamp") or raw.get(
            "timestamp")
        fills = (BrokerFill(f"{eid}:{booked.normalize()}->{filled.normalize()}", delta, price,
                            fee, currency, ms_to_dt(int(ts)) if ts else ms_to_dt(0), booked),)
    average = _dec(raw["average"]) if raw.get("average") else (
        (total_cost / filled).quantize(_Q8) if filled > 0 else None)
    error = str(info.get("r")) if status == "rejected" and info.get("r") else None
    return BrokerOrder(str(raw.get("clientOrderId") or ""), eid, status, filled, average,
                       fills, error)


class UserStream:
    """The user-data streams of one live account, booking what they report."""

    def __init__(self, exchange: Any, execution: ExecutionEngine, *,
                 taker_fee: Decimal = Decimal("0.001"), backoff: Backoff | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 balances: bool = True, settle_s: float = 0.5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.exchange = exchange
        self.execution = execution
        self.taker_fee = taker_fee
        self.backoff = backoff or Backoff()
        self.on_error = on_error or (lambda e: None)
        self.balances = balances
        self.settle_s = settle_s
        self.sleep = sleep
        self.booked = 0  # orders booked from the stream
        self.ignored = 0  # updates for orders that are not ours
        self.reconnects = 0
        self.updates = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def start(self) -> None:
        """Start the watch loops (on the running event loop)."""
        self._spawn("orders", self.exchange.watch_orders, self._on_orders)
        if self.balances:
            self._spawn("balance", self.exchange.watch_balance, self._on_balance)

    def _spawn(self, name: str, watch: Callable[[], Awaitable[Any]],
               handle: Callable[[Any], None]) -> None:
        if name not in self._tasks and not self._closed:
            self._tasks[name] = asyncio.create_task(self._loop(name, watch, handle),
                                                    name=f"userstream:{name}")

    async def _loop(self, name: str, watch: Callable[[], Awaitable[Any]],
                    handle: Callable[[Any], None]) -> None:
        import ccxt

        failures = 0
        while not self._closed:
            task = asyncio.ensure_future(watch())
            try:
                if failures:
                    # a watch still waiting after `settle_s` is subscribed again (a failed
                    # reconnect raises at once): the stream is back, cover the gap now
                    done, _ = await asyncio.wait({task}, timeout=self.settle_s)
                    if not done:
                        failures = 0
                        self._back(name)
                        await self._cover_gap(name)
                data = await task
            except asyncio.CancelledError:
                task.cancel()
                raise
            except (ccxt.BaseError, OSError) as e:
                if self._closed:
                    return
                failures += 1
                self.on_error(e)
                wait = self.backoff.wait(failures)
                log.warning("user stream %s failed (%s: %s): reconnect %d in %.1f s", name,
                            type(e).__name__, str(e)[:120], failures, wait)
                await self.sleep(wait)
                continue
            if failures:  # back with data at once
                failures = 0
                self._back(name)
                await self._cover_gap(name)
            try:
                handle(data)
            except Exception as e:  # one bad update must not stop the fills
                self.on_error(e)
                log.exception("user stream %s: update not handled", name)

    def _back(self, name: str) -> None:
        self.reconnects += 1
        log.info("user stream %s is back: polling working orders for the gap", name)

    async def _cover_gap(self, name: str) -> None:
        """Fills made while the stream was down: asked for over REST now."""
        if name != "orders":
            return
        try:
            await self.execution.poll_open()
        except Exception:
            log.exception("polling working orders after a reconnect failed")

    # ------------------------------------------------------------ handlers
    def _on_orders(self, orders: list[dict[str, Any]]) -> None:
        for raw in orders:
            self.updates += 1
            self.book(raw)

    def book(self, raw: dict[str, Any]) -> Order | None:
        """Book one streamed order update; None when it is not ours or must wait.
        Synchronous from the read of the booked amount to the booking: nothing else on
        the loop can book this order in between."""
        cid = raw.get("clientOrderId")
        if not cid:
            self.ignored += 1
            return None
        with self.execution.sessions() as s:
            o = s.exec(select(Order).where(Order.client_order_id == str(cid))).first()
        if o is None or o.id is None:
            self.ignored += 1
            return None
        if o.state == OrderState.PENDING_CREATE:
            return None  # its submit (or reconciliation) books it: see the module doc
        if o.state in TERMINAL:
            return o  # settled already (REST got there first): nothing to book
        quote = o.symbol.split("/")[1].split(":")[0] if "/" in o.symbol else ""
        res = order_update(raw, o.filled, o.average_price, taker_fee=self.taker_fee,
                           quote=quote)
        if not res.fills and res.status == "open":
            return o  # nothing new (an acknowledgement, or a state REST already booked)
        self.booked += 1
        return self.execution.book(o.id, res)

    def _on_balance(self, bal: dict[str, Any]) -> None:
        free, used = bal.get("free") or {}, bal.get("used") or {}
        account, now = self.execution.broker.account, self.execution.clock.now()
        with self.execution.sessions.begin() as s:
            for asset in set(free) | set(used):
                row = balance_row(s, account, asset)
                row.free, row.locked = _dec(free.get(asset)), _dec(used.get(asset))
                row.updated_at = now

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


def user_exchange(settings: Any) -> Any:
    """The ccxt.pro client of `[exchange]` WITH its keys (the user-data streams are
    private); REST and websocket URLs rewritten by `api_url` / `ws_url`."""
    import ccxt.pro as ccxtpro

    from engine.data.exchange import ccxt_client
    from engine.errors import SentitradeError

    ex = settings.exchange
    klass = getattr(ccxtpro, ex.id, None)
    if klass is None:
        raise SentitradeError(f"exchange {ex.id!r} has no websocket streams in ccxt.pro: "
                              "set [exchange] stream = false")
    return ccxt_client(settings, klass, keys=True)
