"""What the notifier sends to one chat next: per-chat modes, quiet hours, digests.

A trader's phone should ring for what needs them (a proposal, a breaker) and not for
every fill of a busy day, so each alert type has a mode per chat (`[notify]` in the
settings): "on" (sent now), "silent" (sent without sound), "off" (never sent),
"digest" (collected and sent every `digest_seconds`). Alerts that are pending together
for one chat (a burst, or a backlog behind Telegram's flood limits) go out as one
message that keeps their order; beyond `queue_max` pending the whole backlog becomes
one summary, so a chat's queue never grows into hours of single messages.

`pick` is pure (rows in, a group out) so the choices are testable without a chat.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from engine.storage.config import NotifySettings

Mode = Literal["on", "silent", "off", "digest"]


@dataclass(frozen=True, slots=True)
class Pending:
    """One pending delivery as `pick` sees it."""

    delivery_id: int
    kind: str
    due: bool  # next_attempt_at has passed


@dataclass(frozen=True, slots=True)
class Group:
    """Deliveries to send as one message (`digest` when more than one)."""

    ids: tuple[int, ...]
    silent: bool

    @property
    def digest(self) -> bool:
        return len(self.ids) > 1


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


class Policy:
    """The `[notify]` settings applied: modes, quiet hours, hold times."""

    def __init__(self, cfg: NotifySettings | None = None) -> None:
        self.cfg = cfg or NotifySettings()
        self._zone = ZoneInfo(self.cfg.timezone)
        self._first_seen: OrderedDict[int, float] = OrderedDict()
        self._errors: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.overrides: dict[str, dict[str, str]] = {}  # set from the chats (/notify)

    def reconfigure(self, cfg: NotifySettings) -> None:
        """New `[notify]` settings (/reload_config): what is held stays held."""
        self._zone = ZoneInfo(cfg.timezone)
        self.cfg = cfg

    def mode(self, dest: str, kind: str) -> Mode:
        """A chat's own mode for `kind` (/notify: the type's, else its "all"), else
        the settings' (the chat's, else the type's default, else on)."""
        own = self.overrides.get(dest)
        if own:
            m = own.get(kind) or own.get("*")
            if m in ("on", "silent", "off", "digest"):
                return m  # type: ignore[return-value]
        return self.cfg.mode(dest, kind)

    def quiet(self, now: datetime | None = None) -> bool:
        """Inside quiet hours (a window may wrap midnight, e.g. 22:00-07:00)."""
        if not self.cfg.quiet_hours:
            return False
        local = (now or datetime.now(UTC)).astimezone(self._zone)
        start, end = (_minutes(x) for x in self.cfg.quiet_hours.split("-"))
        m = local.hour * 60 + local.minute
        return start <= m < end if start <= end else (m >= start or m < end)

    def repeated_error(self, dest: str, text: str, now: float | None = None) -> bool:
        """True when the same error text went to `dest` within error_repeat_minutes (a
        job failing every 5 minutes is one alert an hour, not twelve)."""
        now = time.monotonic() if now is None else now
        window = self.cfg.error_repeat_minutes * 60
        key = (dest, text[:200])
        last = self._errors.get(key)
        if last is not None and now - last < window:
            return True
        self._errors[key] = now
        self._errors.move_to_end(key)
        while len(self._errors) > 1024:
            self._errors.popitem(last=False)
        return False

    def seen(self, delivery_id: int, now: float) -> float:
        """When this process first saw the pending delivery (its hold starts then)."""
        t = self._first_seen.setdefault(delivery_id, now)
        while len(self._first_seen) > 100_000:
            self._first_seen.popitem(last=False)
        return t

    def forget(self, ids: Sequence[int]) -> None:
        for i in ids:
            self._first_seen.pop(i, None)

    def pick(self, dest: str, rows: Sequence[Pending], now: float,
             flush: bool = False, backlog: int | None = None) -> Group | None:
        """The next message for `dest` from its pending rows (in outbox order, maybe the
        first of more: `backlog` counts them all), or None while nothing is ready.
        `flush` (shutdown) sends what is held right away."""
        cfg = self.cfg
        stream = [r for r in rows if self.mode(dest, r.kind) != "digest"]
        held = [r for r in rows if self.mode(dest, r.kind) == "digest"]
        quiet = self.quiet()
        if held and held[0].due:
            age = now - self.seen(held[0].delivery_id, now)
            if flush or age >= cfg.digest_seconds or len(held) >= cfg.queue_max:
                return Group(tuple(r.delivery_id for r in held if r.due), silent=True)
        if not stream or not stream[0].due:
            return None  # the head waits (backoff): nothing behind it may overtake
        head = stream[0]
        due = []
        for r in stream:
            if not r.due:
                break
            due.append(r)
        silent = quiet or all(self.mode(dest, r.kind) == "silent" for r in due)
        if max(len(due), backlog or 0) > cfg.queue_max or flush:
            return Group(tuple(r.delivery_id for r in due), silent=silent)
        if cfg.digest_window_seconds <= 0:
            return Group((head.delivery_id,), quiet or self.mode(dest, head.kind) == "silent")
        if now - self.seen(head.delivery_id, now) < cfg.digest_window_seconds:
            for r in due:
                self.seen(r.delivery_id, now)
            return None  # give a burst a moment to gather
        return Group(tuple(r.delivery_id for r in due), silent=silent)
