"""The Freqtrade commands traders already know: /count, /stats, /entries, /exits,
/order, /health, /show_config, /whitelist, /blacklist, /locks, /unlock, /chart.

Why here and not in `catalog`: these answer "what has the bot been doing and is it
healthy?" from the history tables and the settings, with no engine action except
/blacklist's, which changes the in-memory list the risk check reads for every entry.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from commands.base import Command, Ctx, UsageError, has_role, no_args, req_id
from commands.fmt import amount, num, signed, table, when
from commands.reply import Attachment, Reply
from engine.data.candles import timeframe_ms
from engine.errors import DataError
from engine.storage.db import SessionFactory
from engine.storage.models import Order, Proposal, Trade


@dataclass(slots=True)
class _Group:
    trades: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = Decimal(0)
    ratio_sum: float = 0.0
    seconds: float = 0.0

    def add(self, t: Trade) -> None:
        self.trades += 1
        pnl = t.realized_pnl or Decimal(0)
        self.wins += pnl > 0
        self.losses += pnl < 0
        self.pnl += pnl
        self.ratio_sum += t.pnl_ratio or 0.0
        if t.close_at is not None:
            self.seconds += (t.close_at - t.open_at).total_seconds()


def _closed_with_entry_reason(sessions: SessionFactory,
                              pair: str | None) -> list[tuple[Trade, str]]:
    """Closed trades with the reason their entry proposal gave first (the strategy's
    entry tag, or the signal's first reason)."""
    with sessions() as s:
        q = select(Trade).where(col(Trade.is_open).is_(False))
        if pair:
            q = q.where(Trade.symbol == pair)
        trades = list(s.exec(q.order_by(col(Trade.id))).all())
        ids = [t.id for t in trades]
        reasons: dict[int, str] = {}
        if ids:
            rows = s.exec(select(Order.trade_id, Proposal.reasons)
                          .join(Proposal, col(Order.proposal_id) == col(Proposal.id))
                          .where(col(Order.trade_id).in_(ids))
                          .where(Proposal.intent == "enter")).all()
            for tid, rs in rows:
                if tid is not None and tid not in reasons:
                    reasons[tid] = str(rs[0]) if rs else "?"
    return [(t, reasons.get(t.id or -1, "?")) for t in trades]


def _group_table(groups: dict[str, _Group], label: str) -> str:
    rows = [[k, str(g.trades), f"{g.wins}/{g.losses}",
             f"{100 * g.ratio_sum / g.trades:+.2f}%", signed(g.pnl)]
            for k, g in sorted(groups.items(), key=lambda kv: (-kv[1].trades, kv[0]))]
    return table([label, "trades", "W/L", "avg", "profit"], rows)


def _pair_arg(args: list[str]) -> str | None:
    if not args:
        return None
    if len(args) > 1 or "/" not in args[0]:
        raise UsageError("give one pair, like BTC/USDT")
    return args[0].upper()


class Count(Command[None]):
    name, summary = "count", "open trades against the slots"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        n = len(ctx.api.open_trades())
        cap = ctx.api.settings.risk.max_open_trades
        pending = len(ctx.api.pending_proposals())
        return Reply(f"Open trades: {n} of {cap} ({max(cap - n, 0)} free); "
                     f"pending proposals: {pending}")


class Stats(Command[None]):
    name, summary = "stats", "exit reasons and how long winners and losers ran"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        rows = _closed_with_entry_reason(ctx.api.sessions, None)
        if not rows:
            return Reply("No closed trades yet.")
        by_exit: dict[str, _Group] = defaultdict(_Group)
        wins, losses = _Group(), _Group()
        for t, _ in rows:
            by_exit[t.exit_reason or "?"].add(t)
            pnl = t.realized_pnl or Decimal(0)
            if pnl > 0:
                wins.add(t)
            elif pnl < 0:
                losses.add(t)
        dur = [f"{name}: {timedelta(seconds=round(g.seconds / g.trades))} on average"
               for name, g in (("winners", wins), ("losers", losses)) if g.trades]
        return Reply(_group_table(by_exit, "exit reason") + "\n\n" + "\n".join(dur),
                     monospace=True)


class _ByReason(Command[str | None]):
    usage = "[pair]"
    label = ""

    def parse(self, args: list[str]) -> str | None:
        return _pair_arg(args)

    def key(self, t: Trade, entry: str) -> str:
        raise NotImplementedError

    async def run(self, ctx: Ctx, params: str | None) -> Reply:
        groups: dict[str, _Group] = defaultdict(_Group)
        for t, entry in _closed_with_entry_reason(ctx.api.sessions, params):
            groups[self.key(t, entry)].add(t)
        if not groups:
            return Reply(f"No closed trades{f' on {params}' if params else ''} yet.")
        return Reply(_group_table(groups, self.label), monospace=True)


class Entries(_ByReason):
    name, summary, label = "entries", "results per entry reason (tag)", "entry"

    def key(self, t: Trade, entry: str) -> str:
        return entry


class Exits(_ByReason):
    name, summary, label = "exits", "results per exit reason", "exit"

    def key(self, t: Trade, entry: str) -> str:
        return t.exit_reason or "?"


class OrderCmd(Command[int]):
    name, usage, summary = "order", "TRADE", "every order of a trade"

    def parse(self, args: list[str]) -> int:
        return req_id(args)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        with ctx.api.sessions() as s:
            t = s.get(Trade, params)
            orders = list(s.exec(select(Order).where(Order.trade_id == params)
                                 .order_by(col(Order.created_at), col(Order.id))).all())
        if t is None:
            return Reply(f"No trade #{params}. /trades lists closed ones, /positions open.",
                         ok=False)
        head = (f"Trade #{t.id} {t.symbol} {t.side}: {amount(t.amount)} @ "
                f"{num(t.open_price, 4)}" + ("" if t.is_open else
                                              f", closed {t.exit_reason or ''}"))
        rows = [[str(o.id), o.side, o.type + (f" a{o.algo_id}" if o.algo_id else ""),
                 amount(o.amount),
                 num(o.average_price, 4) if o.average_price is not None else (
                     num(o.price, 4) if o.price is not None else "market"),
                 amount(o.filled), num(o.fee, 6), o.state, when(o.created_at)]
                for o in orders]
        body = table(["id", "side", "type", "amount", "price", "filled", "fee", "state",
                      "created"], rows) if rows else "no orders recorded"
        return Reply(f"{head}\n{body}", monospace=True)


class Health(Command[None]):
    name, summary = "health", "engine clock and the age of each series' last candle"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        h = ctx.api.health()
        lines = [f"Engine time {when(h.now)}, up since {when(h.started_at)}"]
        stale = 0
        for key, at in sorted(h.last_candles.items()):
            age = h.now - at
            late = age > timedelta(milliseconds=2 * timeframe_ms(h.timeframes[key]))
            stale += late
            lines.append(f"  {key}: last candle {when(at)}"
                         f" ({int(age.total_seconds() // 60)} min ago{', LATE' if late else ''})")
        if not h.last_candles:
            lines.append("No candles received yet.")
        lines.append("All series current." if not stale else f"{stale} series late.")
        return Reply("\n".join(lines))


class ShowConfig(Command[None]):
    name, summary = "show_config", "the running settings (secrets masked)"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        data: dict[str, Any] = ctx.api.settings.masked()
        keep = ("exchange", "risk", "approvals", "engine", "sentiment", "bots")
        text = json.dumps({k: data[k] for k in keep if k in data}, indent=1, default=str)
        return Reply(text[:3500] + ("\n…" if len(text) > 3500 else ""), monospace=True)


class Whitelist(Command[None]):
    name, summary = "whitelist", "the pairs the bots trade"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        lines = [f"{b.name}: {', '.join(b.symbols)} ({b.timeframe})"
                 for b in ctx.api.list_bots()]
        wl = ctx.api.settings.risk.whitelist
        if wl:
            lines.append(f"risk.whitelist (only these may be entered): {', '.join(wl)}")
        return Reply("\n".join(lines) or "No bots configured.")


class Blacklist(Command[str | None]):
    name, usage, summary = "blacklist", "[pair]", "show, or add a pair no bot may enter"

    def parse(self, args: list[str]) -> str | None:
        return _pair_arg(args)

    async def run(self, ctx: Ctx, params: str | None) -> Reply:
        bl = ctx.api.settings.risk.blacklist
        if params is None:
            return Reply("Blacklist: " + (", ".join(bl) if bl else "empty"))
        if not has_role(ctx.user.role, "trader"):
            return Reply("Adding to the blacklist needs the trader role.", ok=False)
        if params not in bl:
            bl.append(params)  # the list the risk check reads before every entry
        return Reply(f"{params} blacklisted: no new entries (open trades still exit). "
                     f"Until restart; add it to risk.blacklist in the config to keep it.")


class Locks(Command[None]):
    name, summary = "locks", "pairs the protections locked, and until when"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        rows = [[("all" if lk.pair == "*" else lk.pair), when(lk.until), lk.rule, lk.reason[:40]]
                for lk in ctx.api.locks()]
        if not rows:
            n = len(ctx.api.settings.risk.protections)
            return Reply("No active locks." + ("" if n else
                                               " (No protections configured: risk.protections.)"))
        return Reply(table(["pair", "until", "rule", "why"], rows), monospace=True)


class Unlock(Command[str | None]):
    name, usage, summary, role = "unlock", "PAIR|all", "end a pair's lock early", "trader"

    def parse(self, args: list[str]) -> str | None:
        if len(args) == 1 and args[0].lower() == "all":
            return None
        pair = _pair_arg(args)
        if pair is None:
            raise UsageError("give a pair, like BTC/USDT, or all")
        return pair

    async def run(self, ctx: Ctx, params: str | None) -> Reply:
        done = await ctx.api.unlock(params, ctx.user.by)
        if not done:
            return Reply(f"No active lock on {params or 'any pair'}.", ok=False)
        return Reply(f"Unlocked {len(done)} lock(s): "
                     + ", ".join(f"{'all' if lk.pair == '*' else lk.pair} ({lk.rule})"
                                 for lk in done))


@dataclass(frozen=True, slots=True)
class _ChartArgs:
    pair: str
    timeframe: str | None


class Chart(Command[_ChartArgs]):
    name, usage, summary = "chart", "PAIR [TIMEFRAME]", "candles, trades and indicators (image)"
    slow = True

    def parse(self, args: list[str]) -> _ChartArgs:
        if not 1 <= len(args) <= 2:
            raise UsageError("like: /chart BTC/USDT 5m")
        pair = _pair_arg(args[:1])
        assert pair is not None
        tf = args[1].lower() if len(args) == 2 else None
        if tf is not None:
            try:
                timeframe_ms(tf)
            except DataError:
                raise UsageError(f"unknown timeframe {tf!r}, like 5m or 1h") from None
        return _ChartArgs(pair, tf)

    async def run(self, ctx: Ctx, params: _ChartArgs) -> Reply:
        png = await ctx.api.chart(params.pair, params.timeframe)
        return Reply(f"{params.pair}{' ' + params.timeframe if params.timeframe else ''}",
                     image=Attachment("chart.png", png, "image/png"))


INSIGHT: tuple[type[Command[Any]], ...] = (Count, Stats, Entries, Exits, OrderCmd, Health,
                                          ShowConfig, Whitelist, Blacklist, Locks, Unlock,
                                          Chart)
