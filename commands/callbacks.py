"""Signed, short button payloads (Telegram callback_data <= 64 bytes, Discord custom_id).

A button press comes back from the chat service as an opaque string that anyone who
can talk to the bot API could forge. So the string carries the action, the proposal id,
when it was issued and an HMAC over all three: a forged payload fails the signature, a
payload older than the TTL is stale. The key derives from the master key (or a
configured secret) and is never written anywhere.

Format: ``p|<a|r|d|u|b>|<id>|<issued base36>|<sig 16 chars>`` (about 40 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from commands.reply import Action

_CODES: dict[str, Action] = {"a": "approve", "r": "reject", "d": "details", "u": "admit",
                             "b": "block"}
_ACTIONS = {v: k for k, v in _CODES.items()}
MAX_LEN = 64


class CallbackError(ValueError):
    """A payload that is malformed, forged or stale; `reason` is for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ButtonPress:
    action: Action
    target_id: int
    issued_at: int


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def derive_key(master_key: bytes, purpose: str = "chat-callbacks") -> bytes:
    """A key for button signatures only, derived from the master key."""
    return hmac.new(master_key, f"sentitrade:{purpose}:v1".encode(), hashlib.sha256).digest()


MAX_CLOCK_SKEW_S = 60  # a button may look this much younger than now (clock drift)


class CallbackSigner:
    """Makes and checks signed button payloads."""

    def __init__(self, key: bytes, ttl_seconds: int = 86400,
                 clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("callback key too short")
        self._key = key
        self.ttl = ttl_seconds
        self._clock = clock

    def _sig(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:12]).decode()

    def sign(self, action: Action, target_id: int) -> str:
        body = f"p|{_ACTIONS[action]}|{target_id}|{_b36(int(self._clock()))}"
        data = f"{body}|{self._sig(body)}"
        assert len(data.encode()) <= MAX_LEN
        return data

    def verify(self, data: str) -> ButtonPress:
        """The press a payload encodes; `CallbackError` when forged, malformed or stale."""
        if not isinstance(data, str) or len(data) > MAX_LEN or not data.isascii():
            raise CallbackError("malformed")
        parts = data.split("|")
        if len(parts) != 5 or parts[0] != "p" or parts[1] not in _CODES:
            raise CallbackError("malformed")
        body, sig = "|".join(parts[:4]), parts[4]
        if not hmac.compare_digest(sig, self._sig(body)):
            raise CallbackError("bad signature")
        try:
            target, issued = int(parts[2]), int(parts[3], 36)
        except ValueError:
            raise CallbackError("malformed") from None
        age = self._clock() - issued
        if age > self.ttl:
            raise CallbackError("stale")
        if age < -MAX_CLOCK_SKEW_S:  # the TTL bounds both sides: no button from the future
            raise CallbackError("issued in the future")
        return ButtonPress(_CODES[parts[1]], target, issued)
