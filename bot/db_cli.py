"""`sentitrade db doctor`: explain the schema's state and, with confirmation, repair it.

Registered on the `db` group in `bot/cli.py`; the logic lives in
`engine.storage.migrate` (`diagnose`, `repair`).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from engine.cli_support import ConfigOpt, JsonOpt, fail, print_json, settings_or_exit
from engine.errors import SentitradeError

__all__ = ["db_doctor"]

console = Console(highlight=False, soft_wrap=True)


def db_doctor(
    config: ConfigOpt = None,
    repair: Annotated[bool, typer.Option(
        "--repair", help="drop a partial schema that holds no data and create it again")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="repair without asking")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Explain the database schema's state (revision, missing or extra tables) and what to do."""
    from engine.storage import migrate

    settings = settings_or_exit(config)
    url = settings.database.url
    found = migrate.diagnose(url)
    if json_out and not repair:
        print_json({"state": found.state, "revision": found.revision, "head": found.head,
                    "missing": list(found.missing), "extra": list(found.extra),
                    "advice": found.advice, "repairable": found.repairable})
        raise typer.Exit(0 if found.state in ("current", "empty") else 1)
    for line in found.lines():
        console.print(line)
    if not repair:
        raise typer.Exit(0 if found.state in ("current", "empty") else 1)
    if not found.repairable:
        fail(f"nothing to repair automatically in state {found.state!r}")
    if not yes and not typer.confirm(
            "drop the partial tables (they hold no data) and create the schema?",
            default=False):
        fail("not repaired")
    try:
        after = migrate.repair(url)
    except SentitradeError as e:
        fail(str(e))
    console.print(f"repaired: state {after.state}, revision {after.revision}")
