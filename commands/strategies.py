"""`/strategy [bot]`: which strategy a bot trades with, and where each parameter's value
came from.

Why it exists: hyperopt writes ``<Strategy>.json`` beside the strategy and the settings
may override single values, so "what is this bot running with?" has three possible
answers per parameter. A trader asks it from the phone before trusting a live bot.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from commands.base import Command, Ctx, opt_name
from commands.fmt import table
from commands.reply import Reply
from engine.service.api import StrategyView


def value_text(v: Any) -> str:
    """A parameter value as a trader writes it (70 not 70.0, true not True)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "none" if math.isnan(v) else f"{v:g}"
    if v is None:
        return "none"
    return str(v)[:40]


def source_text(source: str, view: StrategyView) -> str:
    """Short origin for the table: ``default``, ``settings`` or the params file's name
    (its full path is in the header)."""
    if source == view.params_file:
        return Path(source).name
    return source


def strategy_text(view: StrategyView) -> str:
    """The /strategy answer: header lines, then name / value / from."""
    what = view.strategy if view.strategy == view.class_name else (
        f"{view.strategy} ({view.class_name})")
    where = "built-in" if view.source == "built-in" else f"from {view.source}"
    lines = [f"Bot {view.bot}: {what}, {where}",
             f"Timeframe: {view.timeframe}"]
    if view.params_file_loaded:
        lines.append(f"Hyperopt parameters: {view.params_file}")
    else:
        lines.append(f"Hyperopt parameters: none ({view.params_file} not found)")
    rows = [[k, value_text(v), source_text(view.sources.get(k, "default"), view)]
            for k, v in view.params.items()]
    if rows:
        lines += ["", table(["parameter", "value", "from"], rows)]
    else:
        lines.append("No parameters.")
    return "\n".join(lines)


class StrategyCmd(Command[str | None]):
    name, usage, summary = "strategy", "[bot]", "a bot's strategy, parameters and their origin"

    def parse(self, args: list[str]) -> str | None:
        return opt_name(args)

    async def run(self, ctx: Ctx, params: str | None) -> Reply:
        view = ctx.api.strategy_info(params)
        return Reply(strategy_text(view), monospace=True)
