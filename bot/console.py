"""The console transport: a REPL over the same commands, and the demo's alert sink.

Buttons are shown as numbered choices ("[1] Approve"): typing the number presses the
button of the last message that had buttons. The local operator is the admin (whoever
can type here owns the process). Used by `make demo` as the default transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.actions import press
from bot.notifier import Destination, Notifier
from commands import dispatch, split_args
from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner
from commands.reply import Attachment, Reply, console_text
from engine.service.api import TradingAPI

CONSOLE_USER = Identity(transport="console", user_id="local", name="console", role="admin")


def default_image_dir(api: TradingAPI) -> Path:
    """Beside the SQLite database (var/ by default), else var/images in the working
    folder: where a user already looks for the service's files."""
    url = str(getattr(getattr(api, "settings", None), "database", None) and
              api.settings.database.url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent / "images"
    return Path("var") / "images"


class ConsoleTransport:
    """REPL + alert sink writing to `out`."""

    transport = "console"

    def __init__(self, api: TradingAPI, signer: CallbackSigner, out: TextIO | None = None,
                 readline: Callable[[], str] | None = None,
                 image_dir: Path | None = None) -> None:
        self.api = api
        self.image_dir = image_dir if image_dir is not None else default_image_dir(api)
        self.signer = signer
        self.out = out or sys.stdout
        self._readline = readline or sys.stdin.readline
        self._choices: list[str] = []
        self._sent = 0
        self.notifier: Notifier | None = None
        self.on_quit: Callable[[], None] | None = None
        self.ready = True
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------- sink
    def destinations(self) -> list[Destination]:
        return [Destination("console", "console", ("console", "local"), admin=True)]

    def _show(self, reply: Reply) -> None:
        if reply.buttons:
            self._choices = [self.signer.sign(b.action, int(b.id)) for b in reply.buttons]
        self.out.write(console_text(reply) + "\n")
        for part in reply.extra:
            self.out.write(part + "\n")
        for what, att in (("image", reply.image), ("file", reply.document)):
            if att is not None:
                self.out.write(f"({what} saved: {self.save(att)})\n")
        self.out.flush()

    def save(self, att: Attachment) -> str:
        """Write an attachment (a chart, a backtest report, the daily PnL chart) to
        `image_dir` and return its path: a terminal cannot show a PNG, a viewer can.
        Names carry the time, so nothing is overwritten; a folder that cannot be
        written says so in the line instead of losing the reply."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", att.filename)[:64] or "attachment"
        path = self.image_dir / f"{stamp}-{safe}"
        try:
            self.image_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(att.data)
        except OSError as e:
            return f"not saved ({att.filename}, {len(att.data)} bytes): {e.strerror or e}"
        return str(path)

    async def send(self, dest: Destination, reply: Reply, silent: bool = False) -> str:
        self._sent += 1
        self.out.write("\n* ")
        self._show(reply)
        return str(self._sent)

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None:
        self.out.write(f"\n* (update to alert {ref}) ")
        self._show(reply)

    # ---------------------------------------------------------- REPL
    async def handle_line(self, line: str) -> Reply | None:
        """One typed line: a number presses a button, anything else is a command."""
        line = line.strip()
        if not line:
            return None
        if line.isdigit() and self._choices:
            idx = int(line) - 1
            if not 0 <= idx < len(self._choices):
                return Reply(f"choose 1 to {len(self._choices)}", ok=False)
            res = await press(self.api, self.signer, CONSOLE_USER, self._choices[idx])
            if res.decided_pid is not None and res.message is not None:
                self._choices = []
                if self.notifier is not None:
                    await self.notifier.proposal_decided(res.decided_pid, res.message,
                                                         skip="console")
            return res.detail or res.message or Reply(res.toast)
        name, args = split_args(line if line.startswith("/") else "/" + line)
        ctx = Ctx(api=self.api, user=CONSOLE_USER, chat_id="console")
        return await dispatch(ctx, name, args)

    async def _read(self) -> str:
        """One line from a daemon thread: a pending read never keeps the process alive
        after Ctrl-C (asyncio.to_thread's pool thread did, until Enter was pressed)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            try:
                line = self._readline()
            except Exception:  # stdin closed
                line = ""
            def deliver() -> None:
                if not fut.done():
                    fut.set_result(line)

            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(deliver)

        threading.Thread(target=read, name="sentitrade-stdin", daemon=True).start()
        return await fut

    async def repl(self) -> None:
        """Read lines until EOF or /quit (which calls `on_quit`: stop the service)."""
        self.out.write("sentitrade console: /help for commands, /quit to leave\n")
        while True:
            self.out.write("> ")
            self.out.flush()
            line = await self._read()
            if not line or line.strip() in ("/quit", "quit", "exit"):
                if self.on_quit is not None and line:
                    self.out.write("stopping the service...\n")
                    self.out.flush()
                    self.on_quit()
                return
            reply = await self.handle_line(line)
            if reply is not None:
                self._show(reply)

    async def start(self) -> None:
        """Start the REPL in the background when stdin is interactive."""
        if self._task is None and sys.stdin.isatty():
            self._task = asyncio.create_task(self.repl(), name="sentitrade-console")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
