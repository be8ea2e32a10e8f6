"""The sentiment pipeline's exception tree.

Callers catch at the level they care about (httpx style): a poll job catches
`SourceError` and skips that source; the scorer factory catches `ScorerError` to fall
back to the lexicon. Messages never contain secrets (tokens are redacted from URLs).
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "FetchTimeout",
    "HTTPStatusError",
    "ModelLoadError",
    "ParseError",
    "PayloadTooLarge",
    "RateLimited",
    "ScorerError",
    "SentimentError",
    "SourceError",
    "TransportError",
]


class SentimentError(Exception):
    """Base of every error raised by `sentiment`."""


class SourceError(SentimentError):
    """A news/social source could not be fetched or understood.

    `source` names the source (e.g. ``rss:coindesk``); `url` is already redacted.
    """

    def __init__(self, message: str, *, source: str = "", url: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.url = url


class TransportError(SourceError):
    """Connection-level failure (refused, reset, DNS, TLS)."""


class FetchTimeout(TransportError):
    """The request timed out."""


class HTTPStatusError(SourceError):
    """The server answered with a non-success status after all retries."""

    def __init__(self, message: str, *, status_code: int, source: str = "", url: str = "") -> None:
        super().__init__(message, source=source, url=url)
        self.status_code = status_code


class RateLimited(HTTPStatusError):
    """HTTP 429 that outlived the retries; `retry_after` is in seconds (None if unknown)."""

    def __init__(
        self, message: str, *, retry_after: float | None, source: str = "", url: str = ""
    ) -> None:
        super().__init__(message, status_code=429, source=source, url=url)
        self.retry_after = retry_after


class PayloadTooLarge(SourceError):
    """The response exceeded the configured size cap and was abandoned mid-stream."""


class ParseError(SourceError):
    """The payload was not the format the source speaks (HTML error page, bad JSON...)."""


class ScorerError(SentimentError):
    """A scorer could not produce scores."""


class ModelLoadError(ScorerError):
    """A model (FinBERT) could not be loaded from the hub id or local path."""


class BudgetExceeded(ScorerError):
    """The daily request or token budget of the LLM scorer is spent."""
