"""Sources against the loopback news server: parsing, HTTP manners and every fault."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sentiment.config import SentimentSettings
from sentiment.errors import FetchTimeout, ParseError, PayloadTooLarge, RateLimited, SourceError
from sentiment.items import RawItem
from sentiment.sources import (
    CryptoPanicSource,
    FetchPolicy,
    HttpFetcher,
    NewsCollector,
    RedditSource,
    RssSource,
    _retry_after,
    build_sources,
    redact_url,
)
from tests.fakes.news_server import NewsServer, Reply, atom, cryptopanic, endless, reddit, rss

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
P1 = NOW - timedelta(hours=1)
P2 = NOW - timedelta(hours=2)


class FakeSleep:
    """Records requested sleeps instead of waiting; advances a fake monotonic clock."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.t = 1000.0

    async def __call__(self, s: float) -> None:
        self.calls.append(s)
        self.t += s

    def clock(self) -> float:
        return self.t


@pytest.fixture
def server() -> Iterator[NewsServer]:
    with NewsServer() as srv:
        yield srv


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def fetcher(client: httpx.AsyncClient, sleep: FakeSleep, **policy: float) -> HttpFetcher:
    pol = FetchPolicy(**{"timeout_s": 2.0, "retries": 3, "backoff_base_s": 0.5,
                         "rate_per_minute": 6000.0, **policy})  # type: ignore[arg-type]
    return HttpFetcher(client, pol, sleep=sleep, clock=sleep.clock, rng=lambda: 1.0)


def collector(sources: list, f: HttpFetcher) -> NewsCollector:  # type: ignore[type-arg]
    return NewsCollector(sources, f, clock=lambda: NOW)


async def test_rss_items_tagged_deduped_and_conditional_get(server: NewsServer,
                                                            client: httpx.AsyncClient) -> None:
    server.serve("/feed", rss([
        ("Bitcoin rallies past $100k", "https://news.invalid/a?utm_source=rss", P1),
        ("Bitcoin rallies past $100K!", "https://other.invalid/copy", P1),  # same title
        ("Ether slides as ETH fees spike", "https://news.invalid/b", P2),
        ("", "https://news.invalid/no-title", P2),  # skipped item
    ]), "application/rss+xml", last_modified=P1)
    sleep = FakeSleep()
    col = collector([RssSource(server.url("/feed"), name="rss:fake")], fetcher(client, sleep))
    first = await col.collect()
    assert [i.title for i in first.items] == ["Bitcoin rallies past $100k",
                                             "Ether slides as ETH fees spike"]
    a, b = first.items
    assert (a.source, a.source_kind, a.symbols, a.published_at) == ("rss:fake", "rss",
                                                                   ("BTC",), P1)
    assert b.symbols == ("ETH",) and a.fetched_at == NOW and a.dedup_key and a.title_hash
    assert a.summary.startswith("Bitcoin rallies")
    second = await col.collect()
    assert second.items == [] and second.errors == {}
    last = server.hits("/feed")[-1]
    assert last.headers.get("If-None-Match") and last.headers.get("If-Modified-Since")
    assert "sentitrade" in last.headers["User-Agent"]


async def test_atom_feed(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/atom", atom([("Solana outage halts block production",
                                 "https://x.invalid/sol", P2)]), "application/atom+xml")
    items = await RssSource(server.url("/atom")).fetch(fetcher(client, FakeSleep()), NOW)
    assert len(items) == 1 and items[0].published_at == P2 and items[0].url.endswith("/sol")


async def test_retries_5xx_with_backoff_then_succeeds(server: NewsServer,
                                                      client: httpx.AsyncClient) -> None:
    server.serve("/feed", rss([("Dogecoin jumps", "https://x.invalid/d", P1)]), "text/xml")
    server.fail("/feed", Reply(503), Reply(502, b"<html>bad gateway</html>"))
    sleep = FakeSleep()
    items = await RssSource(server.url("/feed")).fetch(fetcher(client, sleep), NOW)
    assert len(items) == 1 and len(server.hits("/feed")) == 3
    assert sleep.calls == [0.5, 1.0]  # base * 2**attempt (jitter pinned to its max)


def test_backoff_jitter_range() -> None:
    lo = HttpFetcher(httpx.AsyncClient(), FetchPolicy(backoff_base_s=1, backoff_max_s=5),
                     rng=lambda: 0.0)
    hi = HttpFetcher(httpx.AsyncClient(), FetchPolicy(backoff_base_s=1, backoff_max_s=5),
                     rng=lambda: 1.0)
    assert [lo.backoff(a) for a in range(4)] == [0.5, 1.0, 2.0, 2.5]
    assert [hi.backoff(a) for a in range(4)] == [1.0, 2.0, 4.0, 5.0]


async def test_5xx_exhausts_retries(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.fail("/feed", *[Reply(500)] * 5)
    with pytest.raises(SourceError, match="HTTP 500"):
        await RssSource(server.url("/feed")).fetch(fetcher(client, FakeSleep(), retries=2),
                                                   NOW)
    assert len(server.hits("/feed")) == 3


async def test_404_is_not_retried(server: NewsServer, client: httpx.AsyncClient) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        await RssSource(server.url("/missing")).fetch(fetcher(client, FakeSleep()), NOW)
    assert len(server.hits("/missing")) == 1


async def test_429_retry_after_honoured(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/feed", rss([("XRP soars", "https://x.invalid/x", P1)]), "text/xml")
    server.fail("/feed", Reply(429, headers={"Retry-After": "7"}))
    sleep = FakeSleep()
    items = await RssSource(server.url("/feed")).fetch(fetcher(client, sleep), NOW)
    assert len(items) == 1 and sleep.calls == [7.0]


async def test_429_too_long_skips_source_this_poll(server: NewsServer,
                                                  client: httpx.AsyncClient) -> None:
    server.fail("/feed", Reply(429, headers={"Retry-After": "3600"}))
    sleep = FakeSleep()
    f = fetcher(client, sleep, retry_after_max_s=60.0)
    with pytest.raises(RateLimited) as ei:
        await f.get(server.url("/feed"), source="rss:x")
    assert ei.value.retry_after == 3600 and sleep.calls == []


def test_retry_after_http_date() -> None:
    assert _retry_after("Wed, 21 Oct 2015 07:28:30 GMT", 1445412500.0) == pytest.approx(10.0)
    assert _retry_after("garbage", 0.0) is None and _retry_after(None, 0.0) is None


async def test_timeouts_retried_then_reported(server: NewsServer,
                                              client: httpx.AsyncClient) -> None:
    server.fail("/slow", Reply(200, b"<rss/>", delay=0.6), Reply(200, b"<rss/>", delay=0.6))
    f = fetcher(client, FakeSleep(), timeout_s=0.15, retries=1)
    with pytest.raises(FetchTimeout, match="timed out"):
        await f.get(server.url("/slow"), source="rss:slow")
    assert len(server.hits("/slow")) == 2


async def test_connection_refused_maps_to_transport_error(client: httpx.AsyncClient) -> None:
    f = fetcher(client, FakeSleep(), retries=1)
    with pytest.raises(SourceError, match="ConnectError"):
        await f.get("http://127.0.0.1:9/feed", source="rss:dead")


async def test_html_error_page_rejected(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/feed", "<!DOCTYPE html><html><body>Cloudflare says no</body></html>",
                 "text/html")
    with pytest.raises(ParseError, match="HTML page"):
        await RssSource(server.url("/feed")).fetch(fetcher(client, FakeSleep()), NOW)


async def test_malformed_feed_rejected(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/feed", b"\x00\x01 not xml at all <<<", "application/xml")
    with pytest.raises(ParseError, match="malformed feed"):
        await RssSource(server.url("/feed")).fetch(fetcher(client, FakeSleep()), NOW)


async def test_wrong_and_declared_encodings(server: NewsServer, client: httpx.AsyncClient) -> None:
    latin = rss([("Société Générale lists Bitcoin note", "https://x.invalid/sg", P1)],
                encoding="iso-8859-1")
    server.serve("/latin", latin, "application/rss+xml")
    # declared utf-8 in the HTTP header but the bytes are Latin-1: still parsed
    server.serve("/lying", latin, "application/rss+xml; charset=utf-8")
    f = fetcher(client, FakeSleep())
    ok = await RssSource(server.url("/latin")).fetch(f, NOW)
    assert ok[0].title == "Société Générale lists Bitcoin note"
    lying = await RssSource(server.url("/lying")).fetch(f, NOW)
    assert len(lying) == 1 and "Bitcoin" in lying[0].title


async def test_huge_payload_capped(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/big", b"<rss>" + b"x" * 300_000 + b"</rss>", "text/xml")
    server.fail("/stream", Reply(200, headers={"Content-Type": "text/xml"}, chunks=endless()))
    f = fetcher(client, FakeSleep(), max_bytes=100_000)
    with pytest.raises(PayloadTooLarge, match="cap"):
        await RssSource(server.url("/big")).fetch(f, NOW)  # by Content-Length
    with pytest.raises(PayloadTooLarge, match="over cap"):
        await RssSource(server.url("/stream")).fetch(f, NOW)  # chunked, counted while reading


async def test_future_and_missing_dates_clamped(server: NewsServer,
                                                client: httpx.AsyncClient) -> None:
    server.serve("/feed", rss([("From the future", "https://x.invalid/f", NOW + timedelta(days=1)),
                               ("No date", "https://x.invalid/n", None)]), "text/xml")
    items = await RssSource(server.url("/feed")).fetch(fetcher(client, FakeSleep()), NOW)
    assert [i.published_at for i in items] == [NOW, NOW]


async def test_cryptopanic_token_sent_and_never_logged(
    server: NewsServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "cp-SECRET-123"
    server.serve_json("/api/posts/", cryptopanic([
        ("SEC sues exchange", "https://x.invalid/sec", P1, ["BNB"]),
        ("Bitcoin ETF sees inflows", "", P2, []),  # no url: built from id/slug
    ]))
    src = CryptoPanicSource(secret, server.url("/api"))
    f = fetcher(client, FakeSleep())
    items = await src.fetch(f, NOW)
    assert server.hits("/api/posts/")[0].query["auth_token"] == [secret]
    assert items[0].symbols == ("BNB",) and items[0].published_at == P1
    assert items[1].url == "https://cryptopanic.com/news/2/post-2"
    # failures: the token appears in no exception and no log line
    server.fail("/api/posts/", *[Reply(500)] * 4)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # another test may have quietened it
    res = await collector([src], f).collect()
    assert "cryptopanic" in res.errors
    assert secret not in res.errors["cryptopanic"]
    assert "auth_token=***" in res.errors["cryptopanic"]
    assert "HTTP Request" in caplog.text  # httpx did log the requests...
    assert secret not in caplog.text  # ...with the token redacted


async def test_cryptopanic_html_and_bad_json(server: NewsServer,
                                             client: httpx.AsyncClient) -> None:
    f = fetcher(client, FakeSleep())
    server.serve("/api/posts/", "<html><body>Login required</body></html>", "text/html")
    with pytest.raises(ParseError, match="HTML"):
        await CryptoPanicSource("t", server.url("/api")).fetch(f, NOW)
    server.serve("/api/posts/", '{"results": [', "application/json")
    with pytest.raises(ParseError, match="invalid JSON"):
        await CryptoPanicSource("t", server.url("/api")).fetch(f, NOW)


async def test_reddit_listing(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve_json("/r/Bitcoin/new.json", reddit("Bitcoin", [
        ("Just bought more sats, bullish", "abc", P1), ("Exchange hacked?", "def", P2)]))
    items = await RedditSource("Bitcoin", server.base).fetch(fetcher(client, FakeSleep()), NOW)
    assert [i.title for i in items] == ["Just bought more sats, bullish", "Exchange hacked?"]
    assert items[0].url == server.base + "/r/Bitcoin/comments/abc/x/"
    assert items[0].source == "reddit:Bitcoin" and items[0].source_kind == "reddit"
    assert server.hits("/r/Bitcoin/new.json")[0].query["limit"] == ["100"]
    server.serve_json("/r/Bitcoin/new.json", {"error": 403})
    with pytest.raises(ParseError, match="not a Reddit listing"):
        await RedditSource("Bitcoin", server.base).fetch(fetcher(client, FakeSleep()), NOW)


async def test_rate_limit_per_host(server: NewsServer, client: httpx.AsyncClient) -> None:
    server.serve("/a", rss([("a", "https://x.invalid/a", P1)]), "text/xml")
    server.serve("/b", rss([("b", "https://x.invalid/b", P1)]), "text/xml")
    sleep = FakeSleep()
    f = fetcher(client, sleep, rate_per_minute=6.0)  # one request per 10 s per host
    await RssSource(server.url("/a")).fetch(f, NOW)
    await RssSource(server.url("/b")).fetch(f, NOW)
    assert sleep.calls == [10.0]


async def test_collect_skips_failing_sources_and_never_raises(
    server: NewsServer, client: httpx.AsyncClient
) -> None:
    server.serve("/ok", rss([("Cardano upgrade ships", "https://x.invalid/ada", P1)]), "text/xml")
    server.serve("/html", "<html>oops</html>", "text/html")

    class Broken:
        name, kind = "broken", "rss"

        async def fetch(self, fetcher: HttpFetcher, now: datetime) -> list[RawItem]:
            raise RuntimeError("bug in a source")

    col = collector([RssSource(server.url("/ok"), name="rss:ok"),
                     RssSource(server.url("/html"), name="rss:html"), Broken()],
                    fetcher(client, FakeSleep()))
    res = await col.collect()
    assert [i.symbols for i in res.items] == [("ADA",)]
    assert set(res.errors) == {"rss:html", "broken"} and res.per_source == {"rss:ok": 1}


def test_build_sources_and_redaction() -> None:
    s = SentimentSettings(sources=["rss", "cryptopanic", "reddit"], rss_feeds=["https://a.io/f"],
                          cryptopanic_token="tok", subreddits=["ethereum"])
    names = [x.name for x in build_sources(s)]
    assert names == ["rss:a", "cryptopanic", "reddit:ethereum"]
    assert [x.name for x in build_sources(s.model_copy(update={"cryptopanic_token": None}))] == [
        "rss:a", "reddit:ethereum"]
    assert redact_url("https://h/p?auth_token=abc&kind=news") == (
        "https://h/p?auth_token=***&kind=news")
