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

A send counts from when its answer came back (the server saw it before that), and the
windows are a little longer than the platform's (`margin`), so that a request delayed
on a busy machine never makes us early by the server's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

ALERT = "alert"  # rate_limit_args of an alert send; anything else is a reply


@dataclass(frozen=True, slots=True)
class Limit:
    """`max` sends per `window` seconds; alerts may use `max - reserve` of them (the
    rest is kept for replies)."""

    max: int
    window: float
    reserve: int = 0


class Window:
    """One sliding window (a chat, a group or the whole bot)."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._sent: list[list[float]] = []  # [time, is_alert] per send
        self.blocked_until = 0.0  # a 429's retry_after, for everyone

    def wait_for(self, priority: bool) -> float:
        """Seconds until a send of this priority fits (0: now): every send counts
        against `max`, and alerts alone also against `max - reserve`."""
        now = self._clock()
        self._sent = [e for e in self._sent if now - e[0] < self.limit.window]
        wait = max(0.0, self.blocked_until - now)
        wait = max(wait, self._free_in([e[0] for e in self._sent], self.limit.max, now))
        if not priority:
            alerts = [e[0] for e in self._sent if e[1]]
            cap = max(1, self.limit.max - self.limit.reserve)
            wait = max(wait, self._free_in(alerts, cap, now))
        return wait

    def _free_in(self, times: list[float], cap: int, now: float) -> float:
        if len(times) < cap:
            return 0.0
        times = sorted(times)
        return times[len(times) - cap] + self.limit.window - now

    def take(self, alert: bool = False) -> list[float]:
        """Count a send now; `done(entry)` moves it to when the answer came (the
        server saw it in between), so a slow request never makes us early."""
        entry = [self._clock(), float(alert)]
        self._sent.append(entry)
        return entry

    def done(self, entry: list[float]) -> None:
        entry[0] = max(entry[0], self._clock())


class Lanes:
    """The windows a send must pass: overall + (private chat | group)."""

    def __init__(self, overall: Limit, chat: Limit, group: Limit,
                 max_chats: int = 4096) -> None:
        self.overall = Window(overall)
        self.chat, self.group = chat, group
        self._chats: OrderedDict[Any, Window] = OrderedDict()
        self._max_chats = max_chats
        self._lock = asyncio.Lock()
        self.reply_waits: list[float] = []  # seconds replies waited for a slot (last 1000)

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

    async def acquire(self, chat: Any, priority: bool) -> list[tuple[Window, list[float]]]:
        """Wait until a send to `chat` fits every window, then count it; pass the
        result to `release` when the request is answered."""
        t0 = time.monotonic()
        while True:
            async with self._lock:
                windows = [w for w in (self.overall, self._window(chat)) if w is not None]
                wait = max(w.wait_for(priority) for w in windows)
                if wait <= 0:
                    if priority:
                        self.reply_waits.append(time.monotonic() - t0)
                        del self.reply_waits[:-1000]
                    return [(w, w.take(alert=not priority)) for w in windows]
            await asyncio.sleep(min(wait, 1.0) if priority else wait)

    @staticmethod
    def release(slots: list[tuple[Window, list[float]]]) -> None:
        for w, entry in slots:
            w.done(entry)

    def penalize(self, chat: Any, seconds: float) -> None:
        """A 429 came back: nobody sends to `chat` (or at all, for a global one) for
        `seconds`."""
        w = self._window(chat) if chat is not None else self.overall
        if w is not None:
            w.blocked_until = max(w.blocked_until, time.monotonic() + seconds)


def telegram_lanes(margin: float = 1.1, scale: float = 1.0) -> Lanes:
    """Telegram's published limits, with slots reserved for replies: a private chat
    gets one alert message per 3.3 s (a digest carries up to 200 alerts) and two
    reply slots, so a person typing a command every couple of seconds never waits.
    `scale` shrinks every window (tests of
    flows that are not about pacing; a fake with limits scaled the same way)."""
    k = margin * scale
    return Lanes(overall=Limit(30, 1.0 * k, reserve=6),
                 chat=Limit(3, 3.0 * k, reserve=2),
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
            slots = await self.lanes.acquire(chat, priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                ra = e.retry_after
                secs = float(ra if isinstance(ra, int | float) else ra.total_seconds())
                self.lanes.penalize(chat, secs)
                if not priority or attempt or secs > self.reply_retry_max:
                    raise
            finally:
                self.lanes.release(slots)
        raise AssertionError("unreachable")  # pragma: no cover
