"""News and social sources: RSS/Atom feeds, the CryptoPanic API, Reddit JSON listings.

One `httpx.AsyncClient` (tests swap its transport or aim it at a loopback fake) behind
`HttpFetcher`, which owns the HTTP manners a polite long-running poller needs:

* timeouts; retries with exponential backoff and jitter on 5xx, timeouts and connection
  errors; 429 honoured via Retry-After (seconds or HTTP date), up to a ceiling, beyond
  which the source is skipped this poll rather than stalling the job;
* conditional GET (ETag / Last-Modified remembered per URL; 304 = nothing new);
* a rate limit per host, so several subreddits don't hammer reddit.com;
* a size cap enforced while streaming, so a huge or endless body is abandoned early.

Malformed feeds, HTML error pages, wrong encodings and huge payloads raise a `SourceError`
subclass; `NewsCollector.collect` logs the reason and skips that source. Items with no
title/link are skipped one by one. Secrets (the CryptoPanic token) are redacted from
every URL that reaches a log line or an exception.
"""

from __future__ import annotations

import asyncio
import calendar
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from sentiment.config import SentimentSettings
from sentiment.dedup import dedup
from sentiment.errors import (
    FetchTimeout,
    HTTPStatusError,
    ParseError,
    PayloadTooLarge,
    RateLimited,
    SourceError,
    TransportError,
)
from sentiment.items import RawItem
from sentiment.symbols import SymbolTagger

__all__ = [
    "CollectResult",
    "CryptoPanicSource",
    "FetchPolicy",
    "HttpFetcher",
    "NewsCollector",
    "RedditSource",
    "RssSource",
    "Source",
    "build_sources",
    "redact_url",
]

log = logging.getLogger(__name__)

_SECRET_PARAMS = frozenset({"auth_token", "token", "api_key", "apikey", "key", "access_token"})


def redact_url(url: str) -> str:
    """The URL with secret query values replaced by `***` (for logs and errors)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    q = [(k, "***" if k.lower() in _SECRET_PARAMS else v)
         for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(q, safe="*"),
                       parts.fragment))


class RedactSecrets(logging.Filter):
    """httpx logs every request URL at INFO ("HTTP Request: GET https://...?auth_token=...").
    This filter rewrites URL arguments of such records with `redact_url`, so a token passed
    as a query parameter never reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL | str) and "?" in str(a) else a
                for a in args
            )
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_url(record.msg) if record.msg.startswith("http") else record.msg
        return True


_REDACT = RedactSecrets()
for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactSecrets) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_REDACT)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How hard to try and how much to accept; built from the `[sentiment]` section."""

    timeout_s: float = 10.0
    retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 60.0
    max_bytes: int = 5_000_000
    rate_per_minute: float = 30.0
    user_agent: str = "sentitrade/0.1"

    @classmethod
    def from_settings(cls, s: SentimentSettings) -> FetchPolicy:
        return cls(
            timeout_s=s.http_timeout_s, retries=s.http_retries, backoff_base_s=s.backoff_base_s,
            backoff_max_s=s.backoff_max_s, retry_after_max_s=s.retry_after_max_s,
            max_bytes=s.max_response_bytes, rate_per_minute=s.rate_limit_per_minute,
            user_agent=s.user_agent,
        )


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful (200) body, with the headers the parsers need."""

    url: str
    body: bytes
    content_type: str
    charset: str | None


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return max(0.0, dt.timestamp() - now)


class HttpFetcher:
    """GET with retries, backoff + jitter, Retry-After, conditional GET, rate limit, size cap.

    `sleep`, `clock` and `rng` are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self.policy = policy or FetchPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._pending: dict[str, tuple[str | None, str | None]] = {}
        self.defer_validators = False
        self._next_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def commit_validators(self) -> None:
        """Adopt the ETags/Last-Modified seen since the last commit. With
        `defer_validators`, the caller commits only once the items are safely stored:
        otherwise a failed save followed by a 304 would lose those items for good."""
        self._validators.update(self._pending)
        self._pending.clear()

    def discard_validators(self) -> None:
        """Forget uncommitted validators: the next poll refetches in full."""
        self._pending.clear()

    def use_client(self, client: httpx.AsyncClient) -> None:
        """Send through `client` from now on (validators and rate slots are kept)."""
        self._client = client

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: uniform in [d/2, d], d = base * 2**attempt."""
        d = min(self.policy.backoff_max_s, self.policy.backoff_base_s * (2**attempt))
        return d * (0.5 + 0.5 * self._rng())

    async def _rate_limit(self, host: str) -> None:
        interval = 60.0 / self.policy.rate_per_minute
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = self._clock()
            wait = self._next_at.get(host, 0.0) - now
            if wait > 0:
                await self._sleep(wait)
                now += wait
            self._next_at[host] = now + interval

    async def get(
        self,
        url: str,
        *,
        source: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
    ) -> FetchResult | None:
        """The body of `url`, or None when the server says 304 Not Modified."""
        full = str(httpx.URL(url, params=dict(params or {})))
        safe = redact_url(full)
        host = urlsplit(full).hostname or ""
        p = self.policy
        attempt = 0
        while True:
            hdrs = {"User-Agent": p.user_agent, "Accept-Encoding": "gzip, deflate"}
            hdrs.update(headers or {})
            etag, modified = self._validators.get(full, (None, None))
            if conditional and etag:
                hdrs["If-None-Match"] = etag
            if conditional and modified:
                hdrs["If-Modified-Since"] = modified
            await self._rate_limit(host)
            try:
                result = await self._once(full, hdrs, source, safe)
            except (FetchTimeout, TransportError) as exc:
                if attempt >= p.retries:
                    raise
                delay = self.backoff(attempt)
                log.info("%s: %s; retry %d in %.2fs", source, exc, attempt + 1, delay)
            except RateLimited as exc:
                ra = exc.retry_after
                if attempt >= p.retries or (ra is not None and ra > p.retry_after_max_s):
                    raise
                delay = ra if ra is not None else self.backoff(attempt)
                log.info("%s: 429, retry %d in %.2fs", source, attempt + 1, delay)
            except HTTPStatusError as exc:
                if exc.status_code < 500 or attempt >= p.retries:
                    raise
                delay = self.backoff(attempt)
                log.info("%s: HTTP %d; retry %d in %.2fs", source, exc.status_code,
                         attempt + 1, delay)
            else:
                return result
            attempt += 1
            await self._sleep(delay)

    async def _once(
        self, url: str, headers: dict[str, str], source: str, safe: str
    ) -> FetchResult | None:
        p = self.policy
        try:
            async with self._client.stream(
                "GET", url, headers=headers, timeout=p.timeout_s, follow_redirects=True
            ) as resp:
                status = resp.status_code
                if status == 304:
                    return None
                if status == 429:
                    ra = _retry_after(resp.headers.get("Retry-After"), time.time())
                    raise RateLimited(f"{source}: HTTP 429 from {safe}", retry_after=ra,
                                      source=source, url=safe)
                if status >= 400:
                    raise HTTPStatusError(f"{source}: HTTP {status} from {safe}",
                                          status_code=status, source=source, url=safe)
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > p.max_bytes:
                    raise PayloadTooLarge(
                        f"{source}: {declared} bytes > cap {p.max_bytes} from {safe}",
                        source=source, url=safe)
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > p.max_bytes:
                        raise PayloadTooLarge(
                            f"{source}: body over cap {p.max_bytes} bytes from {safe}",
                            source=source, url=safe)
                    chunks.append(chunk)
                etag = resp.headers.get("ETag")
                modified = resp.headers.get("Last-Modified")
                if etag or modified:
                    if self.defer_validators:
                        self._pending[url] = (etag, modified)
                    else:
                        self._validators[url] = (etag, modified)
                ctype = resp.headers.get("Content-Type", "")
                return FetchResult(url, b"".join(chunks), ctype.split(";")[0].strip().lower(),
                                   resp.charset_encoding)
        except httpx.TimeoutException:
            raise FetchTimeout(f"{source}: timed out after {p.timeout_s}s on {safe}",
                               source=source, url=safe) from None
        except httpx.TransportError as exc:
            raise TransportError(f"{source}: {type(exc).__name__} on {safe}",
                                 source=source, url=safe) from None


# --- sources ---------------------------------------------------------------------------


class Source(Protocol):
    """A thing that yields `RawItem`s; `name` is stored as `news_items.source`."""

    name: str
    kind: str

    async def fetch(self, fetcher: HttpFetcher, now: datetime) -> list[RawItem]: ...


def _looks_html(body: bytes, ctype: str) -> bool:
    head = body[:512].lstrip().lower()
    return ctype == "text/html" or head.startswith((b"<!doctype html", b"<html"))


def _clamp_published(ts: datetime | None, now: datetime) -> datetime:
    """Missing dates become `now`; dates in the future (clock skew, typos) are clamped to
    `now`, so no item can look published before it was knowable."""
    if ts is None or ts > now:
        return now
    return ts


def _struct_to_dt(st: Any) -> datetime | None:
    if not st:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _iso_to_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _clean(text: Any, limit: int = 2000) -> str:
    if not isinstance(text, str):
        return ""
    if "<" in text:
        import re

        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:limit]


def _decode_json(res: FetchResult, source: str) -> Any:
    if _looks_html(res.body, res.content_type):
        raise ParseError(f"{source}: got an HTML page instead of JSON", source=source,
                         url=redact_url(res.url))
    enc = res.charset or "utf-8"
    try:
        text = res.body.decode(enc)
    except (LookupError, UnicodeDecodeError):
        text = res.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{source}: invalid JSON ({exc.msg} at {exc.pos})", source=source,
                         url=redact_url(res.url)) from None


@dataclass
class RssSource:
    """An RSS or Atom feed, parsed by feedparser (which also sorts out encodings)."""

    url: str
    name: str = ""
    kind: str = "rss"
    max_items: int = 100

    def __post_init__(self) -> None:
        if not self.name:
            host = (urlsplit(self.url).hostname or "feed").removeprefix("www.")
            self.name = "rss:" + host.split(".")[-2 if host.count(".") else 0]

    async def fetch(self, fetcher: HttpFetcher, now: datetime) -> list[RawItem]:
        import feedparser

        res = await fetcher.get(self.url, source=self.name, headers={
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
        })
        if res is None:
            return []
        if _looks_html(res.body, res.content_type):
            raise ParseError(f"{self.name}: got an HTML page instead of a feed",
                             source=self.name, url=redact_url(self.url))
        parsed = await asyncio.to_thread(feedparser.parse, res.body)
        entries = parsed.get("entries") or []
        if parsed.get("bozo") and not entries:
            exc = parsed.get("bozo_exception")
            raise ParseError(f"{self.name}: malformed feed ({type(exc).__name__}: {exc})",
                             source=self.name, url=redact_url(self.url))
        items: list[RawItem] = []
        for e in entries[: self.max_items]:
            title = _clean(e.get("title"), 500)
            link = e.get("link") or ""
            if not title or not link:
                log.debug("%s: entry without title or link skipped", self.name)
                continue
            published = _struct_to_dt(e.get("published_parsed") or e.get("updated_parsed"))
            items.append(RawItem(
                source=self.name, source_kind=self.kind, url=link, title=title,
                summary=_clean(e.get("summary")), published_at=_clamp_published(published, now),
                fetched_at=now,
            ))
        return items


@dataclass
class CryptoPanicSource:
    """The CryptoPanic posts API (token in `auth_token`, never logged)."""

    token: str
    base_url: str = "https://cryptopanic.com/api/developer/v2"
    name: str = "cryptopanic"
    kind: str = "cryptopanic"
    max_items: int = 100

    async def fetch(self, fetcher: HttpFetcher, now: datetime) -> list[RawItem]:
        url = self.base_url.rstrip("/") + "/posts/"
        res = await fetcher.get(url, source=self.name, params={
            "auth_token": self.token, "public": "true", "kind": "news",
        }, headers={"Accept": "application/json"})
        if res is None:
            return []
        data = _decode_json(res, self.name)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ParseError(f"{self.name}: no 'results' list in the response",
                             source=self.name, url=redact_url(url))
        items: list[RawItem] = []
        for r in results[: self.max_items]:
            if not isinstance(r, dict):
                continue
            title = _clean(r.get("title"), 500)
            link = r.get("url") or r.get("original_url") or ""
            if not link and r.get("id") is not None:
                link = f"https://cryptopanic.com/news/{r['id']}/{r.get('slug') or ''}".rstrip("/")
            if not title or not link:
                continue
            syms = tuple(
                str(c["code"]).upper() for c in (r.get("currencies") or [])
                if isinstance(c, dict) and c.get("code")
            )
            items.append(RawItem(
                source=self.name, source_kind=self.kind, url=link, title=title,
                summary=_clean(r.get("description")),
                published_at=_clamp_published(_iso_to_dt(r.get("published_at")), now),
                fetched_at=now, symbols=syms,
            ))
        return items


@dataclass
class RedditSource:
    """A subreddit's `/new.json` listing (no auth; a descriptive User-Agent is required)."""

    subreddit: str
    base_url: str = "https://www.reddit.com"
    name: str = ""
    kind: str = "reddit"
    max_items: int = 100

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"reddit:{self.subreddit}"

    async def fetch(self, fetcher: HttpFetcher, now: datetime) -> list[RawItem]:
        url = f"{self.base_url.rstrip('/')}/r/{self.subreddit}/new.json"
        res = await fetcher.get(url, source=self.name, params={
            "limit": str(min(self.max_items, 100)), "raw_json": "1",
        }, headers={"Accept": "application/json"})
        if res is None:
            return []
        data = _decode_json(res, self.name)
        try:
            children = data["data"]["children"]
            if not isinstance(children, list):
                raise TypeError
        except (KeyError, TypeError):
            raise ParseError(f"{self.name}: not a Reddit listing", source=self.name,
                             url=url) from None
        items: list[RawItem] = []
        base = self.base_url.rstrip("/")
        for ch in children[: self.max_items]:
            d = ch.get("data") if isinstance(ch, dict) else None
            if not isinstance(d, dict) or d.get("stickied"):
                continue
            title = _clean(d.get("title"), 500)
            permalink = d.get("permalink") or ""
            link = base + permalink if permalink.startswith("/") else (d.get("url") or "")
            if not title or not link:
                continue
            created = d.get("created_utc")
            published = (datetime.fromtimestamp(float(created), tz=UTC)
                         if isinstance(created, int | float) else None)
            items.append(RawItem(
                source=self.name, source_kind=self.kind, url=link, title=title,
                summary=_clean(d.get("selftext")),
                published_at=_clamp_published(published, now), fetched_at=now,
            ))
        return items


def build_sources(settings: SentimentSettings) -> list[Source]:
    """The sources the `[sentiment]` section enables. CryptoPanic without a token is
    skipped with a warning rather than failing every poll."""
    out: list[Source] = []
    n = settings.max_items_per_source
    if "rss" in settings.sources:
        out.extend(RssSource(u, max_items=n) for u in settings.rss_feeds)
    if "cryptopanic" in settings.sources:
        if settings.cryptopanic_token is None:
            log.warning("cryptopanic enabled but no cryptopanic_token set; skipped")
        else:
            out.append(CryptoPanicSource(settings.cryptopanic_token.get_secret_value(),
                                         settings.cryptopanic_base_url, max_items=n))
    if "reddit" in settings.sources:
        out.extend(RedditSource(s, settings.reddit_base_url, max_items=n)
                   for s in settings.subreddits)
    return out


@dataclass
class CollectResult:
    """New-this-poll items (deduplicated, tagged) and, per failed source, why."""

    items: list[RawItem] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    per_source: dict[str, int] = field(default_factory=dict)


class NewsCollector:
    """Fetches all sources concurrently; one failing source never fails the poll.

    Keep one collector alive across polls: it remembers ETags and rate-limit slots.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        fetcher: HttpFetcher,
        tagger: SymbolTagger | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sources = list(sources)
        self.fetcher = fetcher
        self.tagger = tagger or SymbolTagger()
        self._now = clock

    @classmethod
    def from_settings(
        cls, settings: SentimentSettings, client: httpx.AsyncClient, **kw: Any
    ) -> NewsCollector:
        fetcher = HttpFetcher(client, FetchPolicy.from_settings(settings), **kw)
        return cls(build_sources(settings), fetcher, SymbolTagger(settings.symbol_aliases))

    async def _one(self, src: Source, now: datetime) -> list[RawItem]:
        return await src.fetch(self.fetcher, now)

    async def collect(self) -> CollectResult:
        now = self._now()
        got = await asyncio.gather(*(self._one(s, now) for s in self.sources),
                                   return_exceptions=True)
        result = CollectResult()
        merged: list[RawItem] = []
        for src, r in zip(self.sources, got, strict=True):
            if isinstance(r, SourceError):
                result.errors[src.name] = str(r)
                log.warning("source %s skipped: %s", src.name, r)
            elif isinstance(r, BaseException):
                if isinstance(r, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise r
                result.errors[src.name] = f"{type(r).__name__}"
                log.error("source %s failed unexpectedly: %s", src.name, type(r).__name__,
                          exc_info=(type(r), r, r.__traceback__))
            else:
                result.per_source[src.name] = len(r)
                merged.extend(r)
        result.items = self.tag(dedup(merged))
        return result

    def tag(self, items: Iterable[RawItem]) -> list[RawItem]:
        """Add symbols found in title + summary to those the source supplied."""
        out = []
        for it in items:
            found = self.tagger.tag(f"{it.title} {it.summary}")
            syms = tuple(dict.fromkeys((*it.symbols, *found)))
            out.append(replace(it, symbols=syms) if syms != it.symbols else it)
        return out
