"""The `sentitrade` command line: the composition root of the service.

It lives in `bot` because it is the one place allowed to wire every layer together
(`bot -> commands -> engine <- sentiment`). Each command group's implementation lives
with the package that owns it; this file only registers them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.table import Table
from typer._click import Command, Context  # the click that TyperGroup is built on
from typer.core import TyperGroup
from typer.main import get_group

from bot.db_cli import db_doctor
from bot.strategy_cli import StrategyPathOpt
from engine.cli_support import ConfigOpt, JsonOpt, dumps, fail, print_json, settings_or_exit
from engine.errors import SentitradeError

if TYPE_CHECKING:
    from engine.storage.config import Settings


class _LazyGroup(TyperGroup):
    """A command group whose commands owned by other packages are imported only when
    looked up: `sentitrade backtest` loads the backtester, not the benchmarks, the chat
    or the sentiment CLI (start-up time is part of the backtest benchmark).

    `owned` maps a command name to a function registering it on a blank Typer (as it
    would be registered on this one). `--help` and a mistyped name load them all.
    """

    owned: ClassVar[dict[str, Callable[[typer.Typer], None]]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands:
            if cmd_name in self.owned:
                self._load(cmd_name)
            else:  # unknown: load everything, so the "did you mean" sees every name
                self._load_all()
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        blank = typer.Typer(add_completion=False)
        self.owned[name](blank)
        group = get_group(blank)
        self.commands.update({n: c for n, c in group.commands.items() if n not in self.commands})

    def _load_all(self) -> None:
        for name in self.owned:
            if name not in self.commands:
                self._load(name)


def _command(module: str, attr: str, name: str) -> Callable[[typer.Typer], None]:
    """Registers `module.attr` as the command `name`, importing the module then."""
    def register(t: typer.Typer) -> None:
        t.command(name)(getattr(importlib.import_module(module), attr))
    return register


def _sentiment(t: typer.Typer) -> None:
    import sentiment.cli

    # `sentiment` cannot import engine.storage.config: hand it the [sentiment] section from
    # SENTITRADE_* env vars, with the same one-line errors as every command.
    sentiment.cli.settings_provider = lambda: settings_or_exit(None).sentiment
    t.add_typer(sentiment.cli.app, name="sentiment", help="Score headlines, evaluate scorers.")


class _RootGroup(_LazyGroup):
    owned: ClassVar[dict[str, Callable[[typer.Typer], None]]] = {
        "sentiment": _sentiment,
        "backtest": _command("engine.backtest.cli", "backtest", "backtest"),
        "hyperopt": _command("engine.backtest.hyperopt_cli", "hyperopt", "hyperopt"),
        "list-strategies": _command("bot.strategy_cli", "list_strategies_cmd",
                                    "list-strategies"),
        "new-strategy": _command("bot.strategy_cli", "new_strategy_cmd", "new-strategy"),
        "download-data": _command("engine.data.download_cli", "download_data",
                                  "download-data"),
        "list-data": _command("engine.data.download_cli", "list_data", "list-data"),
        "api": _command("web.cli", "api", "api"),
        "worker": lambda t: importlib.import_module("engine.backtest.worker_cli").register(t),
        "user": lambda t: importlib.import_module("web.cli").register_user(t),
        "webhook": lambda t: importlib.import_module("web.cli").register_webhook(t),
    }


class _BenchGroup(_LazyGroup):
    owned: ClassVar[dict[str, Callable[[typer.Typer], None]]] = {
        "indicators": _command("engine.indicators.bench", "cli", "indicators"),
        "backtest": _command("engine.backtest.bench", "cli", "backtest"),
        "sentiment": _command("sentiment.bench", "cli", "sentiment"),
        "engine": _command("engine.service.bench", "cli", "engine"),
        "chat": _command("bot.bench", "cli", "chat"),
        "feed": _command("engine.data.bench_feed", "cli", "feed"),
        "api": _command("web.bench", "cli", "api"),
        "bus": _command("engine.bus.bench", "cli", "bus"),
    }


app = typer.Typer(
    name="sentitrade",
    help="Self-hosted crypto trading service steered from your phone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_RootGroup,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (ratios against a reference timed in the same run).",
                        no_args_is_help=True, cls=_BenchGroup)
app.add_typer(db_app, name="db")
db_app.command("doctor")(db_doctor)
app.add_typer(config_app, name="config")
app.add_typer(bench_app, name="bench")
console = Console()

LIVE_FLAG = "--i-understand-live-trading"

def _setup(settings: Settings, prepare_db: bool = True) -> Settings:
    """Logging with secret masking; with `prepare_db`, also schema at head and secrets
    encrypted into the vault (`run` leaves both to `engine.service.scheduler.serve`).

    Returns the settings with secrets filled in from the vault where the file and env
    gave none (a token stored once with `config set-secret` need not be repeated).
    """
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade
    from engine.storage.secrets import configure_logging
    from engine.storage.secrets_sync import sync_secrets, vault_for

    configure_logging(settings.logging.level, settings.secret_values(), settings.logging.file)
    if not prepare_db:
        return settings
    try:
        upgrade(settings.database.url)
        db = make_engine(settings.database.url)
        try:
            settings = sync_secrets(settings, SessionFactory(db), vault_for(settings))
        finally:
            db.dispose()
    except SentitradeError as e:
        fail(str(e))
    return settings


def check_live_allowed(settings: Settings, confirmed: bool) -> None:
    """Live orders need `exchange.mode = "live"` AND the explicit flag at start."""
    if settings.exchange.mode == "live" and not confirmed:
        fail(
            f'exchange.mode is "live": real orders with real money. Start again with '
            f"{LIVE_FLAG} if you mean it, or set exchange.mode = \"paper\"."
        )


def _chat_attachment(settings: Settings, console_repl: bool,
                     config: Path | None = None, web: bool = True) -> Any:
    """Factory for `run_service(attach=...)`: the configured chat transports (Telegram
    and Discord when their tokens are set, the console REPL on a terminal) plus the
    notifier that drains the outbox to them."""
    from bot.transports import build

    def attach(api: Any) -> Any:
        # the engine's settings hold the secrets `serve` loaded from the vault after
        # this factory was made (a token stored with `config set-secret` only lives there)
        live = getattr(api, "settings", settings)
        if config is not None:  # what /reload_config reads again
            api.config_path = config
        chat = build(live, api, console=console_repl)
        from bot.startup import chat_line

        print(chat_line(live, chat.sinks, live.api.enabled), flush=True)
        if web and live.api.enabled:  # the web API and dashboard beside the chat
            from web.server import with_api

            return with_api(chat, api, live)
        return chat

    return attach


def _api_attachment(settings: Settings) -> Any:
    """`run --role api`: the web API and dashboard alone, over the engine facade."""
    def attach(api: Any) -> Any:
        from web.server import ApiServer

        return ApiServer(api, getattr(api, "settings", settings))

    return attach


def service_notifiers() -> list[Any]:
    """The engine's own alert destinations in `run`: every alert written to the log,
    under the destination key "log". Why not the engine's default: that one is named
    "console", the key of the console chat transport, and two drainers sharing one key
    share its delivery rows: each alert reached either the terminal or the log, never
    both, and the console chat missed some."""
    from engine.outbox import ConsoleNotifier

    return [ConsoleNotifier(name="log")]


def check_strategies(settings: Settings) -> list[str]:
    """Load every bot's strategy (with its params file and settings overrides) before
    anything starts: an unknown or broken one stops the start with one line naming the
    bot, the strategy and what was found, before the database is touched.

    Returns one line per bot saying what it will run and where its parameters come from
    (a trader must see that the hyperopt file was, or was not, picked up)."""
    from engine.strategy.params import load_strategy

    lines = []
    for bot in settings.bots:
        try:
            ls = load_strategy(bot.strategy, settings.engine.strategy_path, bot.params)
        except SentitradeError as e:
            fail(f"bot {bot.name}: {str(e).splitlines()[0]}")
        origin = set(ls.sources.values())
        params = (f"parameters from {ls.params_file}" if str(ls.params_file) in origin
                  else f"no {ls.params_file.name}: default parameters")
        if "settings" in origin:
            params += " + [[bots]] params"
        lines.append(f"bot {bot.name}: strategy {ls.strategy.name} "
                     f"({ls.file or 'built-in'}), {params}")
    return lines


@app.command()
def run(
    config: ConfigOpt = None,
    i_understand_live_trading: Annotated[
        bool, typer.Option(LIVE_FLAG, help="required when exchange.mode is live")
    ] = False,
    strategy_path: StrategyPathOpt = None,
    role: Annotated[str, typer.Option(
        help="all (one process) | collector | engine | chat | api: docs/deploy.md")] = "all",
    worker_id: Annotated[str | None, typer.Option(
        help="--role engine: a stable name (default host:pid)")] = None,
    alerts_file: Annotated[Path | None, typer.Option(
        help="also deliver every alert to this JSONL file (exactly once per event)")] = None,
) -> None:
    """Run the service: scheduler, bots, chat transports, alerts."""
    settings = settings_or_exit(config)
    if strategy_path is not None:
        if not strategy_path.is_dir():
            fail(f"--strategy-path {strategy_path}: no such folder")
        settings = settings.model_copy(update={"engine": settings.engine.model_copy(
            update={"strategy_path": strategy_path})})
    check_live_allowed(settings, i_understand_live_trading)
    loaded = check_strategies(settings)
    from bot.startup import banner, quiet_logging, traceback_to_file

    where = quiet_logging(settings)  # serve() migrates and syncs secrets
    for line in loaded:
        logging.getLogger("sentitrade.strategy").info("%s", line)
    from engine.outbox import JsonlNotifier

    for line in banner(settings, loaded, where):
        print(line, flush=True)  # plain: rich would wrap at 80 columns off a terminal
    from engine.service.scheduler import run_service

    notifiers = [JsonlNotifier(alerts_file)] if alerts_file is not None else []
    try:
        tty = sys.stdin.isatty()
        if role != "all":
            from engine.service.roles import serve_role

            attach = (_chat_attachment(settings, tty, config, web=False) if role == "chat"
                      else _api_attachment(settings) if role == "api" else None)
            asyncio.run(serve_role(settings, role, worker_id=worker_id, notifiers=notifiers,
                                   attach=attach, console=tty and role == "chat"))
            return
        run_service(settings, notifiers=service_notifiers() + notifiers,
                    attach=_chat_attachment(settings, tty, config), console=tty)
        print(f"stopped; the log is {where}", flush=True)
    except SentitradeError as e:
        traceback_to_file("the service stopped", e)
        fail(f"{str(e).splitlines()[0] if str(e) else type(e).__name__} (details in {where})")
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, SIGTERM or /quit during
        console.print("stopped")  # a replay: the service cleaned up on the way out
    except Exception as e:  # the traceback goes to the log file, one line here
        traceback_to_file("the service stopped", e)
        fail(f"the service stopped on an unexpected error ({type(e).__name__}: "
             f"{str(e).splitlines()[0][:200] if str(e) else ''}); the traceback is in {where}")


def _print_demo_summary(summary: Any) -> None:
    t = Table(title=f"sentitrade demo - {summary.period} - {summary.database}")
    t.add_column("what")
    t.add_column("value", justify="right")

    def fmt(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

    t.add_row("candles replayed", f"{summary.candles:,}")
    t.add_row("headlines scored", str(summary.headlines))
    t.add_row("signals", fmt(summary.signals))
    t.add_row("proposals", fmt(summary.proposals))
    t.add_row("orders", fmt(summary.orders))
    t.add_row("fills", str(summary.fills))
    t.add_row("trades closed / open", f"{summary.trades_closed} / {summary.trades_open}")
    t.add_row("realized PnL", summary.realized_pnl)
    t.add_row("equity start -> end", f"{summary.starting_equity} -> {summary.final_equity}")
    t.add_row("breaker trips", "; ".join(summary.breaker_trips) or "none")
    t.add_row("alerts (delivered)", f"{fmt(summary.alerts)} ({summary.alerts_delivered})")
    t.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(t)


@app.command()
def demo(
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
    chat: Annotated[
        bool | None,
        typer.Option("--chat/--no-chat",
                     help="open the console chat after the replay (default: on a terminal)"),
    ] = None,
) -> None:
    """Replay the embedded sample through the whole loop (paper broker, lexicon
    sentiment, threshold approvals, circuit breakers, console alerts), then open the
    console chat over the result when run on a terminal."""
    settings = settings_or_exit(config)
    if settings.exchange.mode == "live":
        fail('the demo never trades live: set exchange.mode = "replay" or "paper"')
    settings = _setup(settings)
    from bot.startup import quiet_logging
    from engine.outbox import ConsoleNotifier
    from engine.service.demo import run_demo

    where = quiet_logging(settings)

    notifier = ConsoleNotifier(echo=not json_out,
                               kinds=["fill", "breaker_tripped", "breaker_cleared", "error"])
    if not json_out:
        from bot.startup import demo_intro

        print(demo_intro(settings) + f"\nThe log: {where}", flush=True)
    interactive = (sys.stdin.isatty() and not json_out) if chat is None else chat

    async def console_chat(api: Any, summary: Any) -> None:
        from bot.console import ConsoleTransport
        from bot.transports import make_signer

        _print_demo_summary(summary)
        console.print("The engine is still up: try /status, /trades, /profit, /signals, "
                      "/sentiment BTC, /risk; /quit to leave.")
        await ConsoleTransport(api, make_signer(settings)).repl()

    try:
        summary = run_demo(settings, [notifier], console_chat if interactive else None)
    except SentitradeError as e:
        fail(str(e))
    if json_out:
        from dataclasses import asdict

        print_json(asdict(summary))
    elif not interactive:
        _print_demo_summary(summary)


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOpt = None,
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
) -> None:
    """Create or migrate the database schema to `revision`."""
    settings = settings_or_exit(config)
    from engine.storage.migrate import upgrade

    try:
        upgrade(settings.database.url, revision)
    except SentitradeError as e:
        fail(str(e))
    except Exception as e:
        fail(f"migration failed on {settings.database.url.split('@')[-1]}: {type(e).__name__}: "
             f"{str(e).splitlines()[0] if str(e) else ''}")
    console.print(f"database at revision {revision}")


@config_app.command("show")
def config_show(config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """Print the effective settings with every secret masked."""
    settings = settings_or_exit(config)
    data = settings.masked()
    if json_out:
        print_json(data)
        return
    for section, values in data.items():
        if isinstance(values, dict):
            console.print(f"[bold]\\[{section}][/]")
            for k, v in values.items():
                console.print(f"{k} = {dumps(v)}", highlight=False)
            console.print()
        else:
            console.print(f"[bold]{section}[/] = {dumps(values)}", highlight=False)


@config_app.command("genkey")
def config_genkey() -> None:
    """Print a new master key (put it in SENTITRADE_MASTER_KEY or the key file)."""
    from cryptography.fernet import Fernet

    sys.stdout.write(Fernet.generate_key().decode() + "\n")


@config_app.command("set-secret")
def config_set_secret(
    name: Annotated[str, typer.Argument(help="e.g. exchange.api_key, telegram.token")],
    config: ConfigOpt = None,
) -> None:
    """Store a secret encrypted in the database (read from stdin, never from argv)."""
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade
    from engine.storage.secrets_sync import SECRET_FIELDS, vault_for

    names = [f"{a}.{b}" for a, b in SECRET_FIELDS]
    if name not in names:
        fail(f"unknown secret {name!r}: one of {', '.join(names)}")
    settings = settings_or_exit(config)
    value = sys.stdin.readline().strip() if not sys.stdin.isatty() else typer.prompt(
        name, hide_input=True)
    if not value:
        fail("empty secret: nothing stored")
    try:
        upgrade(settings.database.url)
        sessions = SessionFactory(make_engine(settings.database.url))
        with sessions.begin() as s:
            vault_for(settings).put(s, name, value)
    except SentitradeError as e:
        fail(str(e))
    console.print(f"{name} stored encrypted")


def main() -> None:
    logging.captureWarnings(True)
    app()


if __name__ == "__main__":
    main()
