"""`sentitrade list-strategies` and `sentitrade new-strategy`: the trader's own strategy
files, Freqtrade's way (a folder of ``*.py`` files, one class per strategy).

Kept apart from bot/cli.py so the composition root stays a list of registrations; the
work itself is the strategy package's (`engine.strategy.registry`,
`engine.strategy.template`). Both commands take the folder from ``--strategy-path``, else
from the settings' ``[engine] strategy_path`` (``--config`` or ``SENTITRADE_*`` env).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.cli_support import ConfigOpt, JsonOpt, fail, print_json, settings_or_exit
from engine.errors import SentitradeError

DEFAULT_NEW_PATH = Path("user_data/strategies")  # Freqtrade's folder, when nothing is set

StrategyPathOpt = Annotated[
    Path | None,
    typer.Option("--strategy-path",
                 help="folder of your strategy files (default: [engine] strategy_path)"),
]


def strategy_folder(strategy_path: Path | None, config: Path | None) -> Path | None:
    """The folder a command should read: the flag, else the settings' strategy_path."""
    if strategy_path is not None:
        return strategy_path
    return settings_or_exit(config).engine.strategy_path


def list_strategies_cmd(
    strategy_path: StrategyPathOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the built-in strategies and the classes in your strategy folder (a file that
    fails to import is listed with its error)."""
    from engine.strategy.registry import list_strategies

    folder = strategy_folder(strategy_path, config)
    try:
        infos = list_strategies(folder)
    except SentitradeError as e:
        fail(str(e))
    rows = [{"name": i.name, "class": i.class_name, "source": i.source,
             "error": (i.error.splitlines()[0] if i.error else None)} for i in infos]
    if json_out:
        print_json({"strategy_path": folder, "strategies": rows})
        return
    t = Table(title=f"strategies ({folder if folder is not None else 'built-in only'})")
    for h in ("name", "class", "file"):
        t.add_column(h)
    for i in infos:  # Text, not markup: an error like "[Errno 2] ..." must print as is
        if i.error is None:
            where = Text(i.source)
        else:
            err = i.error.splitlines()[0]  # the error names the file already
            where = Text(err if err.startswith(i.source) else f"{i.source}: {err}", style="red")
        t.add_row(Text(i.name), Text(i.class_name), where)
    out = Console()
    out.print(t)
    if folder is None:
        out.print("Your own files: --strategy-path DIR or [engine] strategy_path.", markup=False)


def new_strategy_cmd(
    name: Annotated[str, typer.Argument(help="class name of the new strategy, e.g. MyStrategy")],
    strategy_path: StrategyPathOpt = None,
    template: Annotated[
        str, typer.Option("--template", help="minimal | full (every hook, commented)")
    ] = "full",
    config: ConfigOpt = None,
) -> None:
    """Write DIR/NAME.py: a complete, working strategy to edit (never overwrites)."""
    from engine.strategy.registry import list_strategies
    from engine.strategy.template import TEMPLATES, class_name_problem, render

    problem = class_name_problem(name)
    if problem is not None:
        fail(problem)
    if template not in TEMPLATES:
        fail(f"--template {template!r}: one of {', '.join(TEMPLATES)}")
    if any(name in (i.name, i.class_name) for i in list_strategies(None)):
        fail(f"{name!r} is a built-in strategy's name (built-ins are found first): "
             "pick another")
    folder = strategy_folder(strategy_path, config) or DEFAULT_NEW_PATH
    target = folder / f"{name}.py"
    if target.exists():
        fail(f"{target} exists: not overwritten (pick another name or delete it)")
    if folder.is_dir():
        # a class of that name in another file would make the name ambiguous
        clash = [i.source for i in list_strategies(folder)
                 if i.class_name == name and i.source != "built-in"]
        if clash:
            fail(f"a class {name} already exists in {clash[0]}: pick another name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as fh:  # "x": never overwrite, even racing
            fh.write(render(name, template))
    except FileExistsError:
        fail(f"{target} exists: not overwritten (pick another name or delete it)")
    except OSError as e:
        fail(f"cannot write {target}: {e.strerror or e}")
    say = Console(markup=False, highlight=False, soft_wrap=True).print  # "[engine]" as is
    say(f"wrote {target} ({template} template)")
    say(f"backtest it: sentitrade backtest --strategy-path {folder} --strategy {name} "
        "--data CANDLES_DIR")
    say(f'run it: [engine] strategy_path = "{folder}" and [[bots]] strategy = "{name}"')


def register(app: typer.Typer) -> None:
    """Add both commands to the `sentitrade` app."""
    app.command("list-strategies")(list_strategies_cmd)
    app.command("new-strategy")(new_strategy_cmd)
