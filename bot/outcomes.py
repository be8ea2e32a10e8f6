"""What a send's failure means for a delivery row (shared by the notifier and tests).

Telegram has no idempotency key: a send whose response is lost (read timeout, dropped
connection, a crash mid-send) may or may not have reached the chat. The notifier marks
a row in flight before each send and counts unknown outcomes in `last_error`; these
helpers classify an exception and read that count back.
"""

from __future__ import annotations

import re

from engine.storage.secrets import secret_filter

MAX_UNKNOWN_RESENDS = 1
IN_FLIGHT = "in flight"
_UNKNOWN_TAG = re.compile(r"\[unknown outcomes=(\d+)\]")


def mask(text: str) -> str:
    """`text` with every known secret masked (library messages quote tokens)."""
    return secret_filter().mask(text)


def outcome_unknown(e: BaseException) -> bool:
    """True when the request may have reached the platform (the response was lost).
    A library's wrapper (python-telegram-bot's TimedOut/NetworkError) is judged by the
    httpx error it wraps."""
    import httpx

    cause = e.__cause__
    if isinstance(cause, httpx.HTTPError | TimeoutError):
        e = cause
    if isinstance(e, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ConnectError):
        return False  # never connected: nothing was sent
    return isinstance(e, TimeoutError | httpx.TimeoutException | httpx.ReadError
                      | httpx.WriteError | httpx.RemoteProtocolError)


def unknown_outcomes(last_error: str | None) -> int:
    """Sends of this row whose outcome is unknown; a row left in flight (the process
    died mid-send) counts one more."""
    if not last_error:
        return 0
    m = _UNKNOWN_TAG.search(last_error)
    n = int(m.group(1)) if m else 0
    return n + 1 if last_error.startswith(IN_FLIGHT) else n


def tagged(error: str, unknown: int) -> str:
    return f"{error[:450]} [unknown outcomes={unknown}]" if unknown else error[:500]


class RetryLater(Exception):
    """Flood control: try the same message again after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds
        self.retry_after = seconds  # what engine.outbox.classify reads


class PermanentError(Exception):
    """The chat refuses this message for good (blocked bot, bad request)."""

    permanent = True  # what engine.outbox.classify reads


