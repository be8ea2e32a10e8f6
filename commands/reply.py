"""What a command answers: one frozen value that every transport can render.

A `Reply` holds plain text (never pre-escaped: each transport escapes for its own
markup), optional buttons, an optional PNG image and an optional document. Keeping it
a value (not a sequence of transport calls) is what lets the same command run from
Telegram, Discord and the console, and lets tests compare answers directly.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["approve", "reject", "details", "admit", "block"]


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply: `action` on object `id` (a proposal id today)."""

    id: str
    label: str
    action: Action


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply (report.png, trades.csv)."""

    filename: str
    data: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one command.

    `text` is plain text. `monospace` asks the transport to show it as a code block
    (tables). `ok` is False for refusals and usage errors (transports may style them).
    """

    text: str
    buttons: tuple[Button, ...] = ()
    image: Attachment | None = None
    document: Attachment | None = None
    monospace: bool = False
    ok: bool = True
    extra: tuple[str, ...] = field(default=())  # further plain-text parts, sent after


TELEGRAM_LIMIT = 4096
DISCORD_LIMIT = 2000


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 2] + "\n…"


def telegram_html(reply: Reply) -> str:
    """The reply's text as Telegram HTML (parse_mode=HTML), escaped and clipped."""
    body = _clip(reply.text, TELEGRAM_LIMIT - 64)
    escaped = html.escape(body, quote=False)
    return f"<pre>{escaped}</pre>" if reply.monospace else escaped


def discord_markdown(reply: Reply) -> str:
    """The reply's text as Discord markdown: code block for tables, else escaped."""
    body = _clip(reply.text, DISCORD_LIMIT - 16)
    if reply.monospace:
        return "```\n" + body.replace("```", "`\u200b``") + "\n```"
    text = re.sub(r"([\\*_~`|>])", r"\\\1", body)
    return text.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")


def console_text(reply: Reply) -> str:
    """Plain text for a terminal, control characters removed, buttons numbered."""
    text = "".join(ch for ch in reply.text if ch == "\n" or ch >= " ")
    lines = [text]
    for i, b in enumerate(reply.buttons, start=1):
        lines.append(f"  [{i}] {b.label}")
    return "\n".join(lines)
