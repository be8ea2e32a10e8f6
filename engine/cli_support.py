"""Small pieces every CLI command shares: options, settings loading, errors, output.

A command that fails prints ONE line saying what to do and exits non-zero; it never
shows a traceback for a user error. Long commands show a rich progress bar on a TTY only
and print machine-readable JSON with `--json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from engine.errors import SentitradeError

if TYPE_CHECKING:  # pydantic-settings loads when settings do: a third of the start-up
    from engine.storage.config import Settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (env SENTITRADE_* overrides it)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]

err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line to stderr and exit with `code`."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    from engine.storage.config import load_settings

    try:
        return load_settings(config)
    except SentitradeError as e:
        fail(str(e))


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, indent=2, allow_nan=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress bar on a TTY (and not in --json mode); None otherwise."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as p:
        yield p
