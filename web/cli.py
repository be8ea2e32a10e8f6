"""`sentitrade api`, `sentitrade user token|revoke|list`, `sentitrade webhook secret`.

Registered lazily by `bot.cli` (its composition root); nothing here runs at import.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli_support import ConfigOpt, fail, settings_or_exit
from engine.errors import SentitradeError

if TYPE_CHECKING:
    from engine.storage.config import Settings
    from engine.storage.db import SessionFactory

user_app = typer.Typer(help="Web API users and their tokens.", no_args_is_help=True)
webhook_app = typer.Typer(help="Webhook receiver (TradingView-style alerts).",
                          no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option("--role", help="viewer, trader or admin")]


def _sessions(config: Path | None) -> tuple[Settings, SessionFactory]:
    """Settings with the schema at head (the token table may be new)."""
    from bot.cli import _setup
    from engine.storage.db import SessionFactory, make_engine

    settings = _setup(settings_or_exit(config))

    return settings, SessionFactory(make_engine(settings.database.url))


def api(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="override [api] host")] = None,
    port: Annotated[int | None, typer.Option(help="override [api] port")] = None,
) -> None:
    """Serve the dashboard and the read-only API over the database, without the engine
    (deciding, bots and webhooks need `sentitrade run` with [api] enabled = true)."""
    settings = settings_or_exit(config)
    if host is not None or port is not None:
        upd = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        settings = settings.model_copy(update={"api": settings.api.model_copy(update=upd)})
    from bot.cli import _setup

    settings = _setup(settings)
    from web.server import run_dashboard

    print(f"dashboard on http://{settings.api.host}:{settings.api.port}/ (Ctrl-C stops)",
          flush=True)
    try:
        run_dashboard(settings)
    except SentitradeError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot listen on {settings.api.host}:{settings.api.port}: {e.strerror or e}; "
             "pick another with --port")


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="who the token is for (shown in audits)")],
    role: RoleOpt = "viewer",
    config: ConfigOpt = None,
) -> None:
    """Create an API token for NAME with ROLE and print it once (only its hash is kept)."""
    from web.auth import create_token

    _settings, sessions = _sessions(config)
    try:
        token = create_token(sessions, name, role)
    except SentitradeError as e:
        fail(str(e))
    sys.stderr.write(f"token for {name} ({role}); shown once, store it now:\n")
    sys.stdout.write(token + "\n")


@user_app.command("revoke")
def user_revoke(name: Annotated[str, typer.Argument()], config: ConfigOpt = None) -> None:
    """Revoke every token of NAME (effective within 5 seconds)."""
    from web.auth import revoke_tokens

    _settings, sessions = _sessions(config)
    n = revoke_tokens(sessions, name)
    print(f"{n} token(s) of {name} revoked")


@user_app.command("list")
def user_list(config: ConfigOpt = None) -> None:
    """Tokens: name, role, prefix, created, last used, revoked."""
    from web.auth import list_tokens

    _settings, sessions = _sessions(config)
    for t in list_tokens(sessions):
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(f"{t.name}\t{t.role}\t{t.prefix}…\tcreated {t.created_at:%Y-%m-%d}\t"
              f"used {used}\t{state}")


@webhook_app.command("secret")
def webhook_secret(bot: Annotated[str, typer.Argument(help="the bot's name")],
                   config: ConfigOpt = None) -> None:
    """Make (or replace) BOT's webhook signing secret, store it encrypted, print it once."""
    from web.webhook import secret_name

    settings, sessions = _sessions(config)
    if bot not in {b.name for b in settings.bots}:
        fail(f"no bot {bot!r}: one of {', '.join(b.name for b in settings.bots)}")
    from engine.storage.secrets_sync import vault_for

    value = secrets.token_urlsafe(32)
    try:
        with sessions.begin() as s:
            vault_for(settings).put(s, secret_name(bot), value)
    except SentitradeError as e:
        fail(str(e))
    sys.stderr.write(f"webhook secret for {bot}; shown once. Sign each alert body with "
                     "HMAC-SHA256 and send X-Sentitrade-Signature: sha256=<hex>:\n")
    sys.stdout.write(value + "\n")


def register_user(t: typer.Typer) -> None:
    t.add_typer(user_app, name="user")


def register_webhook(t: typer.Typer) -> None:
    t.add_typer(webhook_app, name="webhook")
