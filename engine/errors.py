"""One documented exception tree for the whole service (httpx style).

Catch `SentitradeError` to handle anything the service raises on purpose; catch a
subclass to handle one family. Foreign errors (ccxt, SQLAlchemy, httpx) are mapped to
the most specific class here at the boundary where they occur, so callers never need
to know which library sits underneath.

    SentitradeError
    ├── ConfigError            bad settings file or value; message names key, value, allowed
    ├── SecretsError           master key missing/unreadable, ciphertext not decryptable
    ├── DataError              candle files missing, malformed or out of range
    ├── StateError             a transition that the state machine does not allow
    │   └── InvalidStateTrigger
    ├── RiskRejected           a pre-trade check refused; carries the reason
    ├── ApprovalError          approve/reject refused (expired, drifted, unknown id)
    └── ExchangeError          anything the exchange (or paper broker) said no to
        ├── RateLimited        carries retry_after seconds
        ├── ExchangeUnavailable  timeouts, 5xx, network
        ├── InsufficientFunds
        └── OrderRejected
"""

from __future__ import annotations


class SentitradeError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(SentitradeError):
    """Settings could not be loaded; the message is one line a user can act on."""


class SecretsError(SentitradeError):
    """The master key is missing or wrong, or a stored secret cannot be decrypted."""


class DataError(SentitradeError):
    """Market data is missing, malformed or does not cover the requested range."""


class StateError(SentitradeError):
    """An object was asked to do something its current state does not allow."""


class InvalidStateTrigger(StateError):
    """A (state, trigger) pair that the transition table does not contain."""

    def __init__(self, machine: str, state: str, trigger: str) -> None:
        super().__init__(f"{machine}: cannot {trigger} when {state}")
        self.machine = machine
        self.state = state
        self.trigger = trigger


class RiskRejected(SentitradeError):
    """A pre-trade check blocked an idea; `reason` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ApprovalError(SentitradeError):
    """An approval or rejection was refused; the message is shown to the user."""


class ExchangeError(SentitradeError):
    """The exchange (or the paper broker) refused or failed a request."""


class RateLimited(ExchangeError):
    """The exchange asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """Timeout, 5xx or network failure: the request may or may not have arrived."""


class InsufficientFunds(ExchangeError):
    """The wallet cannot cover the order."""


class OrderRejected(ExchangeError):
    """The exchange refused the order itself (bad size, price, symbol...)."""
