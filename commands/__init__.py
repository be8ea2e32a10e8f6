"""Transport-agnostic chat commands: parse arguments, call the engine, answer a Reply.

Transports (bot/) turn a message into `dispatch(ctx, name, args)` and render the Reply;
they hold no business logic, so every command behaves the same everywhere.
"""

from __future__ import annotations

from commands.base import Command, Ctx, Identity, UsageError, has_role, split_args
from commands.catalog import COMMANDS
from commands.reply import Attachment, Button, Reply

__all__ = ["COMMANDS", "Attachment", "Button", "Command", "Ctx", "Identity", "Reply",
           "UsageError", "dispatch", "has_role", "split_args"]


async def dispatch(ctx: Ctx, name: str, args: list[str]) -> Reply:
    """Run command `name` for `ctx`; an unknown name gets a pointer to /help."""
    cmd = COMMANDS.get(name.lower())
    if cmd is None:
        return Reply("Unknown command. Send /help for the list.", ok=False)
    return await cmd.handle(ctx, args)
