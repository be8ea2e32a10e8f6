"""Client-side flood control with a priority lane for replies.

Telegram (and Discord per route) refuse bursts with 429 + retry_after. Pacing replies
and alerts through one FIFO made a command's answer wait behind every queued alert (a
reply waited 1 s per alert ahead of it). Here each limit is a sliding window of `max`
sends per `window` seconds, the shape Telegram states ("30 messages per second",
"20 messages per minute to the same group", about one per second in a private chat,
which tolerates a short burst), and alerts may use only `max - reserve` of it: the
reserved slots are kept for replies and button answers, so a reply finds a free slot
at once at a person's pace while alerts go as fast as what is left allows. Every send
still counts in every window, so the total never exceeds the platform's limit.

The windows are a little longer than the platform's (`margin`) because our clock reads
the send before the request reaches the server.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

ALERT = "alert"  # rate_limit_args of an alert send; anything else is a reply


@dataclass(frozen=True, slots=True)
class Limit:
    """`max` sends per `window` seconds; alerts may use `max - reserve` of them."""

    max: int
    window: float
    reserve: int = 0


class Window:
    """One sliding window (a chat, a group or the whole bot)."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._sent: deque[float] = deque()
        self.blocked_until = 0.0  # a 429's retry_after, for everyone

    def wait_for(self, priority: bool) -> float:
        """Seconds until a send of this priority fits (0: now)."""
        now = self._clock()
        while self._sent and now - self._sent[0] >= self.limit.window:
            self._sent.popleft()
        cap = self.limit.max if priority else max(1, self.limit.max - self.limit.reserve)
        wait = max(0.0, self.blocked_until - now)
        if len(self._sent) >= cap:
            oldest = self._sent[len(self._sent) - cap]
            wait = max(wait, oldest + self.limit.window - now)
        return wait

    def take(self) -> None:
        self._sent.append(self._clock())


class Lanes:
    """The windows a send must pass: overall + (private chat | group)."""

    def __init__(self, overall: Limit, chat: Limit, group: Limit,
                 max_chats: int = 4096) -> None:
        self.overall = Window(overall)
        self.chat, self.group = chat, group
        self._chats: OrderedDict[Any, Window] = OrderedDict()
        self._max_chats = max_chats
        self._lock = asyncio.Lock()

    def _window(self, chat: Any) -> Window | None:
        if chat is None:
            return None
        w = self._chats.get(chat)
        if w is None:
            try:
                private = int(chat) > 0
            except (TypeError, ValueError):
                private = False
            w = self._chats[chat] = Window(self.chat if private else self.group)
            if len(self._chats) > self._max_chats:  # bounded: forget the least recent
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat)
        return w

    async def acquire(self, chat: Any, priority: bool) -> None:
        """Wait until a send to `chat` fits every window, then count it."""
        while True:
            async with self._lock:
                windows = [w for w in (self.overall, self._window(chat)) if w is not None]
                wait = max(w.wait_for(priority) for w in windows)
                if wait <= 0:
                    for w in windows:
                        w.take()
                    return
            await asyncio.sleep(min(wait, 1.0) if priority else wait)

    def penalize(self, chat: Any, seconds: float) -> None:
        """A 429 came back: nobody sends to `chat` (or at all, for a global one) for
        `seconds`."""
        w = self._window(chat) if chat is not None else self.overall
        if w is not None:
            w.blocked_until = max(w.blocked_until, time.monotonic() + seconds)


def telegram_lanes(margin: float = 1.1, scale: float = 1.0) -> Lanes:
    """Telegram's published limits, with slots reserved for replies: a private chat
    gets alerts at 2 per 3.3 s (digests carry many alerts each) and a reply always
    finds a free slot at a person's pace. `scale` shrinks every window (tests of
    flows that are not about pacing; a fake with limits scaled the same way)."""
    k = margin * scale
    return Lanes(overall=Limit(30, 1.0 * k, reserve=6),
                 chat=Limit(3, 3.0 * k, reserve=1),
                 group=Limit(20, 60.0 * k, reserve=4))


class FloodLimiter(BaseRateLimiter[str]):
    """python-telegram-bot rate limiter over `Lanes`: sends and edits are paced; a
    request made with `rate_limit_args=ALERT` is an alert, anything else a reply.
    A 429 penalizes the chat and is raised (the notifier keeps the alert queued); a
    reply retries once after a short 429 instead."""

    def __init__(self, lanes: Lanes | None = None, reply_retry_max: float = 5.0) -> None:
        self.lanes = lanes or telegram_lanes()
        self.reply_retry_max = reply_retry_max

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self, callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any]
                                                 | list[dict[str, Any]]]],
        args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        paced = endpoint.startswith("send") or endpoint.startswith("edit")
        if not paced:
            return await callback(*args, **kwargs)
        chat = data.get("chat_id")
        priority = rate_limit_args != ALERT
        for attempt in range(2):
            await self.lanes.acquire(chat, priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                ra = e.retry_after
                secs = float(ra if isinstance(ra, int | float) else ra.total_seconds())
                self.lanes.penalize(chat, secs)
                if not priority or attempt or secs > self.reply_retry_max:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
