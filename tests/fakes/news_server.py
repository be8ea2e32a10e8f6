"""A loopback HTTP server speaking RSS/Atom, the CryptoPanic posts API and Reddit listings.

Real HTTP over 127.0.0.1 (a `ThreadingHTTPServer` in a thread), so the production httpx
client, its streaming, timeouts and redirects are exercised. Each route serves a body with
ETag/Last-Modified and answers conditional GETs with 304. Faults are queued per path and
served before the normal reply: `fail(path, Reply(503), Reply(429, headers={...}))`.
Every request is recorded (path, query, headers) for assertions.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.fakes._threaded import ThreadedHTTPFake


@dataclass
class Reply:
    """One canned answer. `chunks` streams a body in pieces (for huge payloads);
    `delay` sleeps before answering (for timeouts)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Iterable[bytes] | None = None


@dataclass
class Route:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class NewsServer(ThreadedHTTPFake):
    """Start with `with NewsServer() as srv:`; `srv.url("/feed")` is the full URL."""

    methods = ("GET",)

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.faults: dict[str, deque[Reply]] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._serve()

    @property
    def base(self) -> str:
        return self.origin

    def url(self, path: str) -> str:
        return self.base + path

    # configuration
    def serve(self, path: str, body: bytes | str, content_type: str, *, etag: bool = True,
              last_modified: datetime | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        tag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"' if etag else None
        lm = email.utils.format_datetime(last_modified, usegmt=True) if last_modified else None
        with self._lock:
            self.routes[path] = Route(data, content_type, tag, lm)

    def serve_json(self, path: str, obj: Any) -> None:
        self.serve(path, json.dumps(obj), "application/json; charset=utf-8")

    def fail(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.faults.setdefault(path, deque()).extend(replies)

    def hits(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # serving
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        rec = Recorded("GET", parts.path, parse_qs(parts.query), dict(h.headers.items()))
        with self._lock:
            self.requests.append(rec)
            q = self.faults.get(parts.path)
            fault = q.popleft() if q else None
            route = self.routes.get(parts.path)
        if fault is not None:
            self._send(h, fault)
            return
        if route is None:
            self._send(h, Reply(404, b"<html><body>Not Found</body></html>",
                                {"Content-Type": "text/html"}))
            return
        hdrs = {"Content-Type": route.content_type}
        if route.etag:
            hdrs["ETag"] = route.etag
        if route.last_modified:
            hdrs["Last-Modified"] = route.last_modified
        inm = h.headers.get("If-None-Match")
        ims = h.headers.get("If-Modified-Since")
        if (inm and route.etag and inm == route.etag) or (
            not inm and ims and route.last_modified and ims == route.last_modified
        ):
            self._send(h, Reply(304, b"", hdrs))
            return
        self._send(h, Reply(200, route.body, hdrs))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, r: Reply) -> None:
        if r.delay:
            time.sleep(r.delay)
        try:
            h.send_response(r.status)
            for k, v in r.headers.items():
                h.send_header(k, v)
            if r.chunks is not None:
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                for c in r.chunks:
                    h.wfile.write(f"{len(c):x}\r\n".encode() + c + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")
            else:
                h.send_header("Content-Length", str(len(r.body)))
                h.end_headers()
                if r.status != 304:
                    h.wfile.write(r.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size cap, timeout): expected in fault tests


# --- payload builders ------------------------------------------------------------------


def rss(items: Iterable[tuple[str, str, datetime | None]], *, title: str = "Fake News",
        encoding: str = "utf-8") -> bytes:
    """RSS 2.0 with (title, link, published) entries."""
    out = [f'<?xml version="1.0" encoding="{encoding}"?>',
           '<rss version="2.0"><channel>', f"<title>{escape(title)}</title>",
           "<link>http://example.invalid/</link><description>fake</description>"]
    for t, link, pub in items:
        out.append("<item>")
        out.append(f"<title>{escape(t)}</title><link>{escape(link)}</link>")
        out.append(f"<description>{escape(t)} - more inside</description>")
        if pub is not None:
            out.append(f"<pubDate>{email.utils.format_datetime(pub, usegmt=True)}</pubDate>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode(encoding)


def atom(items: Iterable[tuple[str, str, datetime]]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom"><title>Fake Atom</title>',
           "<id>urn:fake</id><updated>2026-01-01T00:00:00Z</updated>"]
    for t, link, pub in items:
        out.append(f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/>'
                   f"<id>{escape(link)}</id><updated>{pub.isoformat()}</updated>"
                   f"<summary>{escape(t)}</summary></entry>")
    out.append("</feed>")
    return "\n".join(out).encode()


def cryptopanic(items: Iterable[tuple[str, str, datetime, list[str]]]) -> dict[str, Any]:
    return {"count": 0, "next": None, "previous": None, "results": [
        {"id": i + 1, "slug": f"post-{i + 1}", "title": t, "url": url, "kind": "news",
         "published_at": pub.astimezone(UTC).isoformat().replace("+00:00", "Z"),
         "source": {"title": "Fake", "domain": "fake.invalid"},
         "currencies": [{"code": c, "title": c} for c in codes]}
        for i, (t, url, pub, codes) in enumerate(items)
    ]}


def reddit(sub: str, items: Iterable[tuple[str, str, datetime]], *,
           stickied_first: bool = True) -> dict[str, Any]:
    children = []
    if stickied_first:
        children.append({"kind": "t3", "data": {
            "title": "Daily discussion thread", "permalink": f"/r/{sub}/comments/sticky/",
            "created_utc": 1.0, "stickied": True, "selftext": ""}})
    for t, pid, pub in items:
        children.append({"kind": "t3", "data": {
            "title": t, "permalink": f"/r/{sub}/comments/{pid}/x/", "url": "https://i.redd.it/x",
            "created_utc": pub.timestamp(), "stickied": False, "selftext": "body"}})
    return {"kind": "Listing", "data": {"after": None, "children": children}}


def endless(chunk: int = 65536, total: int = 50_000_000) -> Iterator[bytes]:
    """A huge body, generated lazily (the client must stop reading at its cap)."""
    sent = 0
    block = b"<item>" + b"x" * (chunk - 6)
    while sent < total:
        yield block
        sent += len(block)
