"""Every chat command: parse the arguments, call the engine, answer with a Reply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import commands.queries as queries
from commands.alerts import ALERT_TYPES, decided_text, proposal_reply
from commands.audit import ADMIN
from commands.base import (
    Command,
    Ctx,
    UsageError,
    has_role,
    no_args,
    opt_int,
    opt_name,
    req_id,
)
from commands.fmt import amount, num, proposal_text, signed, table, when
from commands.insight import INSIGHT
from commands.notify import NotifyCmd
from commands.orders import ORDERS
from commands.reload import ReloadConfig
from commands.reply import Attachment, Reply
from commands.strategies import StrategyCmd
from engine.service.api import open_positions
from engine.storage.models import Bot, Trade


def _bot_line(b: Bot) -> str:
    return f"{b.name}: {b.state} ({', '.join(b.symbols)} on {b.timeframe}, {b.strategy}, {b.mode})"


async def _positions(ctx: Ctx) -> list[tuple[Trade, Decimal | None, Decimal | None]]:
    """Open trades with their last price and unrealised PnL."""
    return await open_positions(ctx.api)


class Start(Command[None]):
    name, summary = "start", "welcome and your role"

    def parse(self, args: list[str]) -> None:
        return None  # /start may carry a deep-link payload: ignored

    async def run(self, ctx: Ctx, params: None) -> Reply:
        return Reply(f"Welcome to sentitrade, {ctx.user.name or ctx.user.user_id}.\n"
                     f"Your role: {ctx.user.role}. Send /help for the commands.")


class Help(Command[None]):
    name, summary = "help", "this list"

    def parse(self, args: list[str]) -> None:
        return None

    async def run(self, ctx: Ctx, params: None) -> Reply:
        lines = [f"Commands for your role ({ctx.user.role}):"]
        for cmd in COMMANDS.values():
            if has_role(ctx.user.role, cmd.role):
                usage = f" {cmd.usage}" if cmd.usage else ""
                lines.append(f"/{cmd.name}{usage} - {cmd.summary}")
        return Reply("\n".join(lines))


class _BotCommand(Command[str | None]):
    usage, role = "[name]", "trader"
    verb = ""

    def parse(self, args: list[str]) -> str | None:
        return opt_name(args)

    async def _act(self, ctx: Ctx, name: str | None) -> Bot:
        raise NotImplementedError

    async def run(self, ctx: Ctx, params: str | None) -> Reply:
        bot = await self._act(ctx, params)
        return Reply(f"{self.verb} {_bot_line(bot)}")


class StartBot(_BotCommand):
    name, summary, verb = "start_bot", "start a bot (default: the only/first one)", "Started"

    async def _act(self, ctx: Ctx, name: str | None) -> Bot:
        return await ctx.api.start_bot(name, ctx.user.by)


class StopBot(_BotCommand):
    name, summary, verb = "stop_bot", "stop a bot", "Stopped"

    async def _act(self, ctx: Ctx, name: str | None) -> Bot:
        return await ctx.api.stop_bot(name, ctx.user.by)


class Pause(_BotCommand):
    name, summary, verb = "pause", "no new entries (exits still run)", "Paused"

    async def _act(self, ctx: Ctx, name: str | None) -> Bot:
        return await ctx.api.pause_bot(name, ctx.user.by)


class Status(Command[bool]):
    name, usage, summary = "status", "[table]", "bots, positions, pending, breakers"

    def parse(self, args: list[str]) -> bool:
        if not args:
            return False
        if len(args) == 1 and args[0].lower() == "table":
            return True
        raise UsageError("the only option is 'table'")

    async def run(self, ctx: Ctx, params: bool) -> Reply:
        api = ctx.api
        bots = api.list_bots()
        pos = await _positions(ctx)
        pending = api.pending_proposals()
        risk = api.risk_status()
        mode = api.settings.exchange.mode
        if params:
            rows = [[str(t.id), t.symbol, amount(t.amount), num(t.open_price, 4),
                     num(px, 4) if px is not None else "?", signed(pnl)]
                    for t, px, pnl in pos]
            text = (f"mode {mode}, trading {risk.trading_state}, pending {len(pending)}\n"
                    + "\n".join(_bot_line(b) for b in bots) + "\n\n"
                    + table(["id", "pair", "amount", "open", "last", "pnl"], rows))
            return Reply(text, monospace=True)
        lines = [f"Mode: {mode}; trading: {risk.trading_state}"]
        lines += [_bot_line(b) for b in bots] or ["no bots configured"]
        if pos:
            total = sum((p for _, _, p in pos if p is not None), Decimal(0))
            lines.append(f"Open positions: {len(pos)}, unrealised {signed(total)}")
            for t, px, pnl in pos:
                lines.append(f"  #{t.id} {t.symbol} {amount(t.amount)} @ {num(t.open_price, 4)}"
                             f" -> {num(px, 4) if px is not None else '?'} ({signed(pnl)})")
        else:
            lines.append("No open positions")
        lines.append(f"Pending proposals: {len(pending)}")
        regimes = api.market_regimes()
        if regimes:
            lines.append("Market: " + " · ".join(f"{k} {v}" for k, v in regimes.items()))
        for br in risk.breakers:
            lines.append(f"Breaker {br.rule}: {br.action} until "
                         f"{when(br.until) if br.until else 'manual /resume'}")
        return Reply("\n".join(lines))


class Positions(Command[None]):
    name, summary = "positions", "open positions with PnL"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        pos = await _positions(ctx)
        if not pos:
            return Reply("No open positions.")
        rows = [[str(t.id), t.symbol, t.side, amount(t.amount), num(t.open_price, 4),
                 num(px, 4) if px is not None else "?", signed(pnl)] for t, px, pnl in pos]
        return Reply(table(["id", "pair", "side", "amount", "open", "last", "pnl"], rows),
                     monospace=True)


class Trades(Command[int]):
    name, usage, summary = "trades", "[n]", "last n closed trades (default 10)"

    def parse(self, args: list[str]) -> int:
        return opt_int(args, 10, 1, 100)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        rows = queries.closed_trades(ctx.api.sessions, limit=params)
        if not rows:
            return Reply("No closed trades yet.")
        body = [[str(t.id), t.symbol, amount(t.amount), num(t.open_price, 4),
                 num(t.close_price, 4), signed(t.realized_pnl), t.exit_reason or "",
                 f"{t.close_at:%m-%d %H:%M}" if t.close_at else "-"] for t in rows]
        return Reply(table(["id", "pair", "amount", "open", "close", "pnl", "exit", "closed"],
                           body), monospace=True)


class Profit(Command[int | None]):
    name, usage, summary = "profit", "[days]", "realised and unrealised PnL"

    def parse(self, args: list[str]) -> int | None:
        return opt_int(args, 0, 1, 3650) or None

    async def run(self, ctx: Ctx, params: int | None) -> Reply:
        # the engine's clock: in a replay, "the last 7 days" are the replay's
        since = ctx.api.now() - timedelta(days=params) if params else None
        rows = queries.closed_trades(ctx.api.sessions, since=since)
        realised = sum((t.realized_pnl or Decimal(0) for t in rows), Decimal(0))
        wins = sum(1 for t in rows if (t.realized_pnl or 0) > 0)
        pos = await _positions(ctx)
        unreal = sum((p for _, _, p in pos if p is not None), Decimal(0))
        span = f"last {params} days" if params else "all time"
        rate = f"{wins / len(rows) * 100:.0f}%" if rows else "-"
        return Reply(f"Profit ({span}):\nrealised {signed(realised)} over {len(rows)} trades "
                     f"(win rate {rate})\nunrealised {signed(unreal)} on {len(pos)} open")


class BalanceCmd(Command[None]):
    name, summary = "balance", "wallet balances"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        bals = await ctx.api.balances()
        if not bals:
            return Reply("No balances.")
        rows = [[b.asset, amount(b.free), amount(b.locked)] for b in bals]
        return Reply(table(["asset", "free", "locked"], rows), monospace=True)


class _Periods(Command[int]):
    unit, default, maximum = "day", 7, 365

    def parse(self, args: list[str]) -> int:
        return opt_int(args, self.default, 1, self.maximum)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        rows = queries.pnl_by_period(ctx.api.sessions, self.unit, params, now=ctx.api.now())
        fmt = "%Y-%m" if self.unit == "month" else "%Y-%m-%d"
        body = [[f"{r.start:{fmt}}", str(r.trades), signed(r.pnl)] for r in rows]
        return Reply(table([self.unit, "trades", "pnl"], body), monospace=True)


class Daily(_Periods):
    name, usage, summary = "daily", "[n]", "PnL per day (default 7)"


class Weekly(_Periods):
    name, usage, summary, unit, default, maximum = ("weekly", "[n]", "PnL per week",
                                                    "week", 4, 104)


class Monthly(_Periods):
    name, usage, summary, unit, default, maximum = ("monthly", "[n]", "PnL per month",
                                                    "month", 6, 60)


class Performance(Command[None]):
    name, summary = "performance", "PnL per pair"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        rows = queries.performance(ctx.api.sessions)
        if not rows:
            return Reply("No closed trades yet.")
        body = [[p.symbol, str(p.trades), f"{p.wins}", signed(p.pnl)] for p in rows]
        return Reply(table(["pair", "trades", "wins", "pnl"], body), monospace=True)


class Pending(Command[None]):
    name, summary = "pending", "proposals waiting for a decision"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        items = ctx.api.pending_proposals()
        if not items:
            return Reply("No pending proposals.")
        if len(items) == 1:
            return proposal_reply(items[0])
        return Reply("\n\n".join(proposal_text(p) for p in items[:10])
                     + "\n\nDecide with /approve ID or /reject ID.")


def fill_line(order: object) -> str:
    """'filled 0.01 @ 65000.00, fee 0.65' from an Order (duck-typed for fakes)."""
    filled = getattr(order, "filled", None)
    avg = getattr(order, "average_price", None)
    state = getattr(order, "state", "?")
    if filled:
        return (f"order {state}: filled {amount(filled)} @ {num(avg, 4)}, "
                f"fee {amount(getattr(order, 'fee', None))}")
    return f"order {state}"


class Approve(Command[int]):
    name, usage, summary, role = "approve", "ID", "approve a proposal", "trader"

    def parse(self, args: list[str]) -> int:
        return req_id(args)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        d = await ctx.api.approve(params, ctx.user.by)
        if not d.changed:
            return Reply(f"Proposal #{params} was already {d.proposal.state}"
                         f"{' by ' + d.proposal.decided_by if d.proposal.decided_by else ''}.")
        fill = fill_line(d.order) if d.order is not None else d.message
        return Reply(decided_text(d.proposal, "Approved", ctx.user.name or ctx.user.by, fill))


class Reject(Command[int]):
    name, usage, summary, role = "reject", "ID", "reject a proposal", "trader"

    def parse(self, args: list[str]) -> int:
        return req_id(args)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        d = await ctx.api.reject(params, ctx.user.by)
        if not d.changed:
            return Reply(f"Proposal #{params} was already {d.proposal.state}.")
        return Reply(decided_text(d.proposal, "Rejected", ctx.user.name or ctx.user.by))


class ForceExit(Command[int | None]):
    name, usage, summary, role = "forceexit", "ID|all", "close a position now", "trader"

    def parse(self, args: list[str]) -> int | None:
        if len(args) == 1 and args[0].lower() == "all":
            return None
        return req_id(args)

    async def run(self, ctx: Ctx, params: int | None) -> Reply:
        closed = await ctx.api.force_exit(params, ctx.user.by)
        if not closed:
            return Reply("Nothing to close.")
        return Reply("Exit ordered: " + ", ".join(f"#{t.id} {t.symbol}" for t in closed))


_SYMBOL = re.compile(r"^[A-Za-z0-9]{2,12}(/[A-Za-z0-9]{2,12})?$")


class Sentiment(Command[str]):
    name, usage, summary = "sentiment", "SYMBOL", "aggregate sentiment and its headlines"

    def parse(self, args: list[str]) -> str:
        if len(args) != 1 or not args[0].isascii() or not _SYMBOL.match(args[0]):
            raise UsageError("a symbol like BTC or BTC/USDT")
        return args[0].upper().split("/")[0]

    async def run(self, ctx: Ctx, params: str) -> Reply:
        st = ctx.api.settings.sentiment
        hl = st.half_life_minutes
        clock = getattr(ctx.api, "clock", None)  # the engine's clock (replays run in the past)
        v = queries.sentiment_for(ctx.api.sessions, ctx.api.settings, params,
                                  now=clock.now() if clock is not None else None,
                                  book=getattr(ctx.api, "news", None))
        if v.score is None:
            return Reply(f"No scored headlines about {params} in the last "
                         f"{hl * st.lookback_half_lives / 60:g} h.")
        ev = ", ".join(f"{k} {n}" for k, n in sorted((v.events or {}).items()))
        thr = st.label_threshold
        label = "BULLISH" if v.score >= thr else "BEARISH" if v.score <= -thr else "NEUTRAL"
        lines = [f"Sentiment {params}: {label} {v.score:+.2f}, confidence {v.confidence:.2f}, "
                 f"{v.items} headline(s) (half-life {hl:g} min)"
                 + (f"; events: {ev}" if ev else "")]
        for ts, src, title, sc in v.headlines:
            lines.append(f"{sc:+.2f} {ts:%m-%d %H:%M} {src}: {title[:120]}")
        return Reply("\n".join(lines))


class Signals(Command[int]):
    name, usage, summary = "signals", "[n]", "latest fused signals (default 10)"

    def parse(self, args: list[str]) -> int:
        return opt_int(args, 10, 1, 50)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        rows = queries.recent_signals(ctx.api.sessions, params)
        if not rows:
            return Reply("No signals yet.")
        body = [[f"{s.ts:%m-%d %H:%M}", s.symbol, s.timeframe, s.direction, f"{s.strength:.2f}",
                 f"{s.technical_score:+.2f}",
                 "-" if s.sentiment_score is None else f"{s.sentiment_score:+.2f}"]
                for s in rows]
        return Reply(table(["time", "pair", "tf", "dir", "str", "tech", "sent"], body),
                     monospace=True)


class Risk(Command[None]):
    name, summary = "risk", "limits, usage, breakers"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        r = ctx.api.risk_status()
        lines = [f"Trading: {r.trading_state}"]
        for k, v in r.limits.items():
            used = r.usage.get(k)
            lines.append(f"{k}: {used if used is not None else '-'} / {v}")
        for k, v in r.usage.items():
            if k not in r.limits:
                lines.append(f"{k}: {v}")
        if r.breakers:
            for b in r.breakers:
                lines.append(f"BREAKER {b.rule}: measured {b.measured:g} vs {b.threshold:g}, "
                             f"{b.action} until {when(b.until) if b.until else 'manual /resume'}")
        else:
            lines.append("No breaker active.")
        return Reply("\n".join(lines))


class Resume(Command[None]):
    name, summary, role = "resume", "clear a breaker pause early", "admin"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        cleared = await ctx.api.resume(ctx.user.by)
        if not cleared:
            return Reply("No breaker was active.")
        return Reply("Cleared: " + ", ".join(e.rule for e in cleared) + ". Trading resumed.")


@dataclass(frozen=True, slots=True)
class AlertArgs:
    enabled: bool | None
    types: tuple[str, ...] | None


class Alerts(Command[AlertArgs]):
    name, usage, summary = "alerts", "[on|off|TYPE...]", "your alert preferences"

    def parse(self, args: list[str]) -> AlertArgs:
        if not args:
            return AlertArgs(None, None)
        words = [a.lower() for a in args]
        if words in (["on"], ["off"]):
            return AlertArgs(words[0] == "on", None)
        if words == ["all"]:
            return AlertArgs(True, ())
        bad = [w for w in words if w not in ALERT_TYPES]
        if bad:
            raise UsageError("types: all, " + ", ".join(ALERT_TYPES))
        return AlertArgs(True, tuple(dict.fromkeys(words)))

    async def run(self, ctx: Ctx, params: AlertArgs) -> Reply:
        sessions, u = ctx.api.sessions, ctx.user
        row = queries.get_user(sessions, u.transport, u.user_id)
        enabled = row.alerts_enabled if row else True
        types = list(row.alert_types) if row else []
        if params.enabled is None:
            return Reply(f"Alerts {'on' if enabled else 'off'}: "
                         f"{', '.join(types) if types else 'all types'}")
        enabled = params.enabled
        if params.types is not None:
            types = list(params.types)
        queries.save_alert_prefs(sessions, u.transport, u.user_id, u.name, u.role, enabled,
                                 types)
        return Reply(f"Alerts {'on' if enabled else 'off'}: "
                     f"{', '.join(types) if types else 'all types'}")


@dataclass(frozen=True, slots=True)
class BacktestArgs:
    pair: str
    timeframe: str
    days: int
    strategy: str


TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
_DURATION = re.compile(r"^([0-9]{1,4})([dwmy])$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def known_strategies() -> tuple[str, ...]:
    """Strategy names the engine knows: built-ins (user files are named by class)."""
    from engine.strategy import strategy_names

    return tuple(strategy_names())


class Backtest(Command[BacktestArgs]):
    name, role, slow = "backtest", "trader", True
    usage = "PAIR TF DURATION STRATEGY  (e.g. /backtest BTC/USDT 5m 30d ema_rsi_cross)"
    summary = "backtest and send the report"

    def __init__(self, pairs: tuple[str, ...] | None = None) -> None:
        self._pairs = pairs

    def pairs(self, ctx: Ctx | None = None) -> set[str]:
        if self._pairs is not None:
            return set(self._pairs)
        if ctx is None:
            return set()
        return {s for b in ctx.api.settings.bots for s in b.symbols}

    def parse(self, args: list[str]) -> BacktestArgs:
        if len(args) != 4:
            raise UsageError("four arguments")
        pair, tf, dur, strat = args
        if not pair.isascii() or pair.count("/") != 1 or not all(
                p.isalnum() and len(p) <= 12 for p in pair.split("/")):
            raise UsageError(f"unknown pair {pair[:20]!r}")
        if tf not in TIMEFRAMES:
            raise UsageError(f"timeframe one of {', '.join(TIMEFRAMES)}")
        m = _DURATION.match(dur.lower()) if dur.isascii() else None
        if m is None:
            raise UsageError("duration like 30d, 8w, 6m or 1y")
        days = int(m.group(1)) * _UNIT_DAYS[m.group(2)]
        if not 1 <= days <= 3650:
            raise UsageError("duration from 1d to 10y")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", strat):
            raise UsageError(f"strategy: a built-in ({', '.join(known_strategies())}) or "
                             "your strategy's class name")
        return BacktestArgs(pair.upper(), tf, days, strat)

    async def run(self, ctx: Ctx, params: BacktestArgs) -> Reply:
        # any pair with candles in the configured data (the engine refuses the rest,
        # naming where it looked); an explicit pair list still limits it
        pairs = set(self._pairs) if self._pairs is not None else set()
        if pairs and params.pair not in pairs:
            return Reply(f"{self.usage_line()}\nunknown pair {params.pair}: one of "
                         f"{', '.join(sorted(pairs))}", ok=False)
        from engine.strategy import StrategyError
        from engine.strategy.registry import strategy_class

        try:  # built-ins, or a class in the bot's strategy folder
            strategy_class(params.strategy, ctx.api.settings.engine.strategy_path)
        except StrategyError as e:
            return Reply(f"{self.usage_line()}\n{str(e)[:300]}", ok=False)
        out = await ctx.api.backtest(params.pair, params.timeframe, params.days, params.strategy)
        image = Attachment("report.png", out.report_png, "image/png") if out.report_png else None
        doc = (Attachment("trades.csv", out.trades_csv, "text/csv") if out.trades_csv
               else None)
        return Reply(out.text or "Backtest finished.", image=image, document=doc)


class Logs(Command[int]):
    name, usage, summary, role = "logs", "[n]", "recent log lines and incidents", "admin"

    def parse(self, args: list[str]) -> int:
        return opt_int(args, 20, 1, 200)

    async def run(self, ctx: Ctx, params: int) -> Reply:
        path = ctx.api.settings.logging.file
        lines: list[str] = []
        if path is not None and Path(path).is_file():
            with Path(path).open(encoding="utf-8", errors="replace") as fh:
                lines = [ln.rstrip("\n")[:300] for ln in fh.readlines()[-params:]]
        if not lines:
            for e in queries.recent_risk_events(ctx.api.sessions, params):
                lines.append(f"{when(e.created_at)} breaker {e.rule} {e.action}"
                             + (f" cleared by {e.cleared_by}" if e.cleared_by else ""))
            for d in queries.failed_deliveries(ctx.api.sessions, params):
                lines.append(f"delivery #{d.id} to {d.destination}: {d.state} "
                             f"after {d.attempts} tries: {d.last_error}")
        if not lines:
            return Reply("Nothing in the log.")
        return Reply("\n".join(lines[-params:]), monospace=True)


class Version(Command[None]):
    name, summary = "version", "software version"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        try:
            v = metadata.version("sentitrade")
        except metadata.PackageNotFoundError:
            v = "0.1.0 (source)"
        return Reply(f"sentitrade {v}, mode {ctx.api.settings.exchange.mode}")


_CLASSES: tuple[type[Command[Any]], ...] = (
    Start, Help, StartBot, StopBot, Pause, Status, Positions, Trades, Profit,
                  BalanceCmd, Daily, Weekly, Monthly, Performance, Pending, Approve, Reject,
                  ForceExit, Sentiment, Signals, Risk, Resume, Alerts, Backtest, StrategyCmd,
                  Logs, Version, NotifyCmd, *INSIGHT, *ADMIN, *ORDERS, ReloadConfig)
ALL: tuple[Command[Any], ...] = tuple(c() for c in _CLASSES)
COMMANDS: dict[str, Command[Any]] = {c.name: c for c in ALL}
