"""/reload_config (admin): read the settings file again without a restart.

The engine validates the whole file first (`engine.service.reload`): a bad file
changes nothing and the answer is the one line saying what is wrong. Otherwise the
answer lists what was applied now and what needs a restart. Like every command it is
written to the audit log (who, when, the outcome).
"""

from __future__ import annotations

from pathlib import Path

from commands.base import Command, Ctx, no_args
from commands.reply import Reply
from engine.errors import ConfigError
from engine.service.engine import Engine
from engine.service.reload import reload_settings

MAX_LINES = 25


class ReloadConfig(Command[None]):
    name, summary, role = "reload_config", "read the settings file again (admin)", "admin"

    def parse(self, args: list[str]) -> None:
        no_args(args)

    async def run(self, ctx: Ctx, params: None) -> Reply:
        path = getattr(ctx.api, "config_path", None)
        if path is None:
            return Reply("This service was started without --config: there is no settings "
                         "file to reload (env settings need a restart).", ok=False)
        if not isinstance(ctx.api, Engine):
            return Reply("This engine cannot reload its settings.", ok=False)
        try:
            res = reload_settings(ctx.api, Path(path))
        except ConfigError as e:
            return Reply(f"Nothing changed: {str(e).splitlines()[0]}", ok=False)
        if not res.applied and not res.restart:
            return Reply(f"{path}: no changes.")
        lines = [f"Reloaded {path}."]
        if res.applied:
            lines.append(f"Applied now ({len(res.applied)}):")
            lines += [f"  {x}" for x in res.applied[:MAX_LINES]]
        if res.restart:
            lines.append(f"Need a restart, running values kept ({len(res.restart)}):")
            lines += [f"  {x}" for x in res.restart[:MAX_LINES]]
        return Reply("\n".join(lines))
