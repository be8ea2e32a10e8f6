"""Dedup keys: the same story arrives from several feeds with tracking junk in the URL
and cosmetic edits to the title, so we hash a canonical URL and a normalised title.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sentiment.items import RawItem

__all__ = ["canonical_url", "dedup", "normalise_title", "title_hash", "url_key", "with_keys"]

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
_TRACKING_KEYS = frozenset(
    {"fbclid", "gclid", "dclid", "yclid", "msclkid", "ref", "ref_src", "cmpid", "ncid",
     "guccounter", "source", "rss", "feed", "output", "amp"}
)
_NON_WORD = re.compile(r"[^\w]+")


def canonical_url(url: str) -> str:
    """Lower-case scheme/host, drop `www.`, default ports, fragments, tracking params,
    trailing slashes and `/amp`; sort the remaining query so order doesn't matter."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "https").lower()
    if scheme == "http":
        scheme = "https"  # the same article is served on both
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if host.startswith("amp."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path or "/")
    if path.endswith("/amp") or path.endswith("/amp/"):
        path = path[: path.rfind("/amp")]
    path = path.rstrip("/") or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=False)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def normalise_title(title: str) -> str:
    """NFKC, case-fold, punctuation to spaces, collapse whitespace."""
    t = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NON_WORD.sub(" ", t).split())


def _h(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:32]


def url_key(url: str) -> str:
    """Hash of the canonical URL: the `news_items.dedup_key`."""
    return _h(canonical_url(url))


def title_hash(title: str) -> str:
    """Hash of the normalised title: catches syndicated copies under other URLs."""
    return _h(normalise_title(title))


def with_keys(item: RawItem) -> RawItem:
    """`item` with `dedup_key` and `title_hash` filled in."""
    key = url_key(item.url) if item.url else _h("title:" + normalise_title(item.title))
    return replace(item, dedup_key=key, title_hash=title_hash(item.title))


def dedup(items: Iterable[RawItem]) -> list[RawItem]:
    """Keep the first of each URL key or title hash (input order), filling the keys."""
    seen_url: set[str] = set()
    seen_title: set[str] = set()
    out: list[RawItem] = []
    for it in items:
        it = it if it.dedup_key and it.title_hash else with_keys(it)
        if it.dedup_key in seen_url or it.title_hash in seen_title:
            continue
        seen_url.add(it.dedup_key)
        seen_title.add(it.title_hash)
        out.append(it)
    return out
