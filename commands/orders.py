"""A trader's own orders from the chat: /twap and /vwap (execution algos), /algos,
/cancel, /forcelong and /forceshort.

Why a module of its own: these place or cancel orders outside any strategy, so each
one says exactly what it did (or the one reason it did not) in a line; the engine does
the risk checks (`engine.service.manual`, `engine.service.algodesk`), never the chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from commands.base import Command, Ctx, UsageError, no_args
from commands.fmt import amount, num, when
from commands.reply import Reply
from engine.execution.algos import MAX_SLICES, AlgoSpec
from engine.storage.models import AlgoOrder

_PAIR = re.compile(r"^[A-Z0-9]{2,12}/[A-Z0-9]{2,12}(:[A-Z0-9]{2,12})?$")
_DURATION = re.compile(r"^([0-9]{1,5})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_ALGO_ID = re.compile(r"^#?a(?:lgo)?#?([0-9]{1,12})$")


def parse_pair(raw: str) -> str:
    pair = raw.upper()
    if not pair.isascii() or not _PAIR.match(pair):
        raise UsageError(f"unknown pair {raw[:20]!r}: like BTC/USDT")
    return pair


def parse_decimal(raw: str, what: str) -> Decimal:
    """A positive finite number (no exponents, no NaN)."""
    if not raw.isascii() or not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,12})?|\.[0-9]{1,12}", raw):
        raise UsageError(f"{what} is a positive number, like 0.5")
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise UsageError(f"{what} is a positive number, like 0.5") from None
    if d <= 0:
        raise UsageError(f"{what} must be above 0")
    return d


def _side_word(side: str) -> str:
    return "bought" if side == "buy" else "sold"


@dataclass(frozen=True, slots=True)
class AlgoArgs:
    pair: str
    side: str
    amount: Decimal
    duration: timedelta
    slices: int
    limit: Decimal | None


class _AlgoCmd(Command[AlgoArgs]):
    role = "trader"
    kind = ""
    usage = "PAIR buy|sell AMOUNT DURATION [slices N] [limit PRICE]"

    def parse(self, args: list[str]) -> AlgoArgs:
        if len(args) < 4:
            raise UsageError(f"like: /{self.name} BTC/USDT buy 0.5 60m slices 12 limit 65000")
        pair = parse_pair(args[0])
        side = args[1].lower()
        if side not in ("buy", "sell"):
            raise UsageError("the side is buy or sell")
        qty = parse_decimal(args[2], "the amount")
        m = _DURATION.match(args[3].lower()) if args[3].isascii() else None
        if m is None:
            raise UsageError("duration like 90s, 60m, 4h or 1d")
        duration = timedelta(seconds=int(m.group(1)) * _SECONDS[m.group(2)])
        if not timedelta(seconds=10) <= duration <= timedelta(days=7):
            raise UsageError("duration from 10s to 7d")
        slices: int | None = None
        limit: Decimal | None = None
        rest = [a.lower() for a in args[4:]]
        if len(rest) % 2:
            raise UsageError("options come in pairs: slices N, limit PRICE")
        for key, val in zip(rest[::2], rest[1::2], strict=True):
            if key == "slices" and slices is None:
                if not val.isascii() or not val.isdigit() or not 1 <= int(val[:6]) <= MAX_SLICES:
                    raise UsageError(f"slices: a whole number from 1 to {MAX_SLICES}")
                slices = int(val)
            elif key == "limit" and limit is None:
                limit = parse_decimal(val, "the limit")
            else:
                raise UsageError(f"unknown or repeated option {key[:12]!r}: slices or limit")
        if slices is None:  # one slice per 5 minutes by default, 2 to 100
            slices = max(2, min(100, int(duration.total_seconds() // 300)))
        return AlgoArgs(pair, side, qty, duration, slices, limit)

    async def run(self, ctx: Ctx, params: AlgoArgs) -> Reply:
        spec = AlgoSpec(self.kind, params.pair, params.side, params.amount, params.duration,
                        params.slices, params.limit)
        a = await ctx.api.start_algo(spec, ctx.user.by)
        lim = f", limit {num(a.limit_price, 4)}" if a.limit_price is not None else ""
        head = (f"{a.kind.upper()} a{a.id} started: {a.side} {amount(a.amount)} {a.symbol} in "
                f"{a.slices} slices over {_span(a.duration_s)} (arrival "
                f"{num(a.arrival_price, 4)}{lim}).")
        if a.state != "running":
            return Reply(f"{head}\nIt ended at once: {a.state}, {a.note or ''}".rstrip(", "))
        return Reply(f"{head}\nSlice 1: {amount(a.filled)} filled. Progress comes as alerts; "
                     f"/algos shows it, /cancel a{a.id} stops it.")


class Twap(_AlgoCmd):
    name, kind, summary = "twap", "twap", "buy/sell in equal slices over a duration"


class Vwap(_AlgoCmd):
    name, kind, summary = "vwap", "vwap", "buy/sell in slices weighted by usual volume"


def _span(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def algo_line(a: AlgoOrder) -> str:
    """One algo with its progress, for /algos and /cancel."""
    end = a.started_at + timedelta(seconds=a.duration_s)
    avg = f", avg {num(a.average_price, 4)}" if a.average_price is not None else ""
    return (f"a{a.id} {a.kind.upper()} {a.side} {a.symbol}: {amount(a.filled)}/"
            f"{amount(a.amount)} filled, slice {a.slices_done}/{a.slices}{avg}, arrival "
            f"{num(a.arrival_price, 4)}, {a.state}" + (f" until {when(end)}"
                                                        if a.state == "running" else ""))


class Algos(Command[bool]):
    name, usage, summary = "algos", "[all]", "running TWAP/VWAP orders and their progress"

    def parse(self, args: list[str]) -> bool:
        if args and [a.lower() for a in args] != ["all"]:
            raise UsageError("no arguments, or 'all' for the finished ones too")
        return bool(args)

    async def run(self, ctx: Ctx, params: bool) -> Reply:
        rows = ctx.api.algos(active_only=not params)
        if not rows:
            return Reply("No algo is running. Start one with /twap or /vwap.")
        return Reply("\n".join(algo_line(a) + (f" ({a.note})" if a.note else "")
                               for a in rows))


@dataclass(frozen=True, slots=True)
class CancelArgs:
    algo: bool
    id: int


class Cancel(Command[CancelArgs]):
    name, usage, role = "cancel", "ORDER_ID | aALGO_ID", "trader"
    summary = "cancel a working order, or an algo (a3)"

    def parse(self, args: list[str]) -> CancelArgs:
        if len(args) != 1 or not args[0].isascii():
            raise UsageError("one order id (like 12) or algo id (like a3)")
        raw = args[0].lower()
        m = _ALGO_ID.match(raw)
        if m is not None:
            return CancelArgs(True, int(m.group(1)))
        raw = raw.removeprefix("#")
        if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
            raise UsageError("one order id (like 12) or algo id (like a3)")
        return CancelArgs(False, int(raw))

    async def run(self, ctx: Ctx, params: CancelArgs) -> Reply:
        if params.algo:
            a = await ctx.api.cancel_algo(params.id, ctx.user.by)
            return Reply(f"Canceled {algo_line(a)}")
        try:
            o = await ctx.api.cancel_order(params.id, ctx.user.by)
        except Exception as e:
            running = {a.id for a in ctx.api.algos()}
            if params.id in running:  # the number of a running algo: say how to stop it
                return Reply(f"{str(e).splitlines()[0]}. To stop algo a{params.id}, send "
                             f"/cancel a{params.id}.", ok=False)
            raise
        if o.state in ("canceled", "pending_cancel"):
            done = f", {amount(o.filled)} had filled" if o.filled else ""
            return Reply(f"Order #{o.id} {o.symbol} {o.side} {amount(o.amount)}: {o.state}{done}.")
        return Reply(f"Order #{o.id} could not be canceled: it is {o.state}.", ok=False)


@dataclass(frozen=True, slots=True)
class ForceArgs:
    pair: str
    rate: Decimal | None


class _Force(Command[ForceArgs]):
    usage, role = "PAIR [RATE]", "trader"
    side = ""

    def parse(self, args: list[str]) -> ForceArgs:
        if not 1 <= len(args) <= 2:
            raise UsageError(f"like: /{self.name} BTC/USDT (market) or /{self.name} "
                             "BTC/USDT 65000 (limit)")
        rate = parse_decimal(args[1], "the rate") if len(args) == 2 else None
        return ForceArgs(parse_pair(args[0]), rate)

    async def run(self, ctx: Ctx, params: ForceArgs) -> Reply:
        d = await ctx.api.force_entry(params.pair, self.side, params.rate, ctx.user.by)
        o: Any = d.order
        how = "limit at " + num(params.rate, 4) if params.rate is not None else "market"
        if o is not None and o.filled:
            fill = f"{_side_word(o.side)} {amount(o.filled)} @ {num(o.average_price, 4)}"
        else:
            fill = f"order {getattr(o, 'state', '?')}"
        return Reply(f"Force {self.side} {params.pair} ({how}): {fill} "
                     f"[order #{getattr(o, 'id', '?')}, proposal #{d.proposal.id}]")


class ForceLong(_Force):
    name, side, summary = "forcelong", "long", "open a long now (risk-checked)"


class ForceShort(_Force):
    name, side, summary = "forceshort", "short", "open a short now (futures markets only)"


class OrderTypes(Command[None]):
    name, summary = "ordertypes", "order types native on the exchange or emulated"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        return Reply("\n".join(["Order types (native: held by the exchange; emulated: the "
                                "engine watches prices and sends the order when triggered)",
                                *ctx.api.order_types()]))


ORDERS: tuple[type[Command[Any]], ...] = (Twap, Vwap, Algos, Cancel, ForceLong, ForceShort,
                                          OrderTypes)
