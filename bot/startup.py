"""What `sentitrade run` and `sentitrade demo` say on the terminal: what a user needs
(mode, bots, chats, where the log is), not the scheduler's internals.

The terminal gets warnings and errors only, one line each (a traceback is a wall of
text that hides the one line that matters, and may quote a library's internals); the
log file gets everything at the configured level, tracebacks included. Without
`logging.file` the log goes beside the SQLite database (var/ by default), so there is
always a file to look in, and the banner says where.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.storage.config import Settings

MAX_LINE = 300


def log_file(settings: Settings) -> Path:
    """The configured log file, else `sentitrade.log` beside the SQLite database,
    else var/sentitrade.log."""
    if settings.logging.file is not None:
        return Path(settings.logging.file)
    url = settings.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent / "sentitrade.log"
    return Path("var") / "sentitrade.log"


class OneLine(logging.Formatter):
    """`warning: <message>`: the first line of the message, and for an exception its
    type and where its traceback is."""

    def __init__(self, where: Path) -> None:
        super().__init__()
        self.where = where

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage().strip().splitlines()
        head = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        line = f"{head}{msg[0] if msg else ''}"[:MAX_LINE]
        if record.exc_info and record.exc_info[0] is not None:
            line += f" ({record.exc_info[0].__name__}; traceback in {self.where})"
        return line


# their INFO lines are milestones a user waits for (with roles: which worker holds which
# bots, a failover, the collector's end)
SAID = ("sentitrade.scheduler", "sentitrade.worker", "sentitrade.roles", "sentitrade.collector")


def _for_the_terminal(record: logging.LogRecord) -> bool:
    """Warnings and errors, and the service's milestones (exchange answers, strategies
    warmed, running, replay finished); the rest is for the log file."""
    return record.levelno >= logging.WARNING or (
        record.levelno == logging.INFO and record.name in SAID)


def quiet_logging(settings: Settings) -> Path:
    """Log everything to the file, warnings and errors to the terminal (one line each);
    returns the file. Secrets stay masked on both (`configure_logging`'s filter)."""
    from engine.storage.secrets import configure_logging

    where = log_file(settings)
    configure_logging(settings.logging.level, settings.secret_values(), where)
    for h in logging.getLogger().handlers:
        if getattr(h, "_sentitrade", False) and type(h) is logging.StreamHandler:
            h.addFilter(_for_the_terminal)
            h.setFormatter(OneLine(where))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return where


def traceback_to_file(message: str, exc: BaseException) -> None:
    """Write `exc` with its traceback to the log file only (the terminal shows the one
    line that `fail` prints)."""
    record = logging.LogRecord("sentitrade", logging.ERROR, __file__, 0, message, None,
                               (type(exc), exc, exc.__traceback__))
    for h in logging.getLogger().handlers:
        if getattr(h, "_sentitrade", False) and isinstance(h, logging.FileHandler):
            h.handle(record)


def banner(settings: Settings, strategies: list[str], where: Path) -> list[str]:
    """The lines `run` prints before starting: mode, bots, the log file."""
    ex = settings.exchange
    mode = {"replay": f"replay of {ex.replay_data or 'the embedded sample'} (paper broker)",
            "paper": f"paper trading on {ex.id} prices (no real orders)",
            "live": f"LIVE trading on {ex.id} with real orders"}[ex.mode]
    lines = [f"sentitrade: {mode}"]
    lines += [f"  {line}" for line in strategies]
    for b in settings.bots:
        lines.append(f"  bot {b.name}: {', '.join(b.symbols)} on {b.timeframe}, approvals "
                     f"{b.approval_mode or settings.approvals.mode}")
    lines.append(f"log: {where} (alerts, details, tracebacks)")
    return lines


def chat_line(settings: Settings, sinks: list[Any], api_enabled: bool) -> str:
    """Which chats serve commands and alerts (said once the stored secrets are in)."""
    names = [str(getattr(s, "transport", type(s).__name__)) for s in sinks]
    parts = [("console (type /help, /quit)" if n == "console" else n) for n in names]
    if "console" not in names:
        parts.append("no console (stdin is not a terminal)")
    if "telegram" not in names:
        parts.append("Telegram off (no telegram.token)")
    if "discord" not in names:
        parts.append("Discord off (no discord.token)")
    if api_enabled:
        parts.append(f"web API on {settings.api.host}:{settings.api.port}")
    return "chat: " + "; ".join(parts) + ". Ctrl-C stops."


def demo_intro(settings: Settings) -> str:
    """What the demo is about to do, and why its proposals expire (a user who sees
    'expired' without knowing why thinks something broke)."""
    limit = settings.approvals.auto_max_notional
    data = (f"{settings.exchange.replay_data}" if settings.exchange.replay_data else
            "the embedded sample")
    pairs = ", ".join(sorted({p for b in settings.bots for p in b.symbols}))
    return (f"Demo: replaying {data} ({pairs}) "
            "through the whole loop: lexicon sentiment on the sample headlines, the "
            "strategy, risk checks, circuit breakers and a paper broker.\n"
            "Approvals are 'threshold': orders up to 600 "
            f"{settings.exchange.quote} go through by themselves; larger ones become "
            "proposals that wait for a tap. Nobody taps during the replay, so they "
            f"expire after {settings.approvals.expiry_seconds} s of replay time: that is "
            "expected here (with "
            "`sentitrade run` in replay mode and a chat, the replay waits for you)."
            + (f" (Your own auto_max_notional {limit} applies in `run`.)"
               if limit != 600 else ""))
