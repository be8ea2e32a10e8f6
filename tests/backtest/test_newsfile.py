"""News files for backtests: parsing, bad rows, one clear error, the score cache."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from engine.data.newsfile import MARKET, load_news_file, parse_time, read_headlines
from engine.errors import DataError
from sentiment.config import SentimentSettings
from sentiment.items import Score

T = "2025-01-02T09:03:00.000Z"
T_MS = 1_735_808_580_000


class CountingScorer:
    """Scores by keyword and records every text it is asked about."""

    name = "counting"

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.seen: list[str] = []

    def score(self, texts: Sequence[str]) -> list[Score]:
        self.seen.extend(texts)
        return [Score("positive" if "surge" in t.lower() else "negative",
                      0.8 if "surge" in t.lower() else -0.6, 0.9,
                      "hack/exploit" if "hack" in t.lower() else "none", 7) for t in texts]


def _jsonl(path: Path, rows: list[dict | str], gz: bool = False) -> Path:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_parse_time_forms() -> None:
    assert parse_time(T) == T_MS
    assert parse_time("2025-01-02T09:03:00") == T_MS  # no zone: UTC
    assert parse_time("2025-01-02T10:03:00+01:00") == T_MS
    assert parse_time(T_MS) == T_MS and parse_time(T_MS / 1000) == T_MS
    assert parse_time(str(T_MS // 1000)) == T_MS
    for bad in (None, "", "yesterday", float("nan"), -5, True):
        assert parse_time(bad) is None


def test_jsonl_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "n.jsonl", [
        {"published_at": T, "title": "Bitcoin surges"},
        {"title": "no time at all"},
        "{broken json",
        {"published_at": "not a date", "title": "x"},
        {"published_at": T, "title": "  "},
        [1, 2],  # type: ignore[list-item]
        {"time": "2025-01-02T09:00:00Z", "title": "Ethereum hack drains a bridge",
         "source": "Decrypt", "tickers": ["ETH", "X"]},
        {"date": 1735808340, "title": "earlier via epoch seconds"},
    ])
    heads, counts = read_headlines(p)
    assert counts.rows == 8 and counts.skipped == 5
    assert counts.first_bad == "line 2: no time (one of published_at, published, time, date, timestamp)"
    assert [h.title for h in heads] == ["earlier via epoch seconds",
                                        "Ethereum hack drains a bridge", "Bitcoin surges"]
    assert heads[1].source == "Decrypt"


def test_csv_and_gzip_give_the_same_items(tmp_path: Path) -> None:
    rows = [{"published_at": T, "title": "Bitcoin surges past $100k"},
            {"published_at": "2025-01-02T09:10:00Z", "title": "Solana network hack"}]
    a = _jsonl(tmp_path / "a.jsonl.gz", rows, gz=True)  # type: ignore[arg-type]
    b = tmp_path / "b.csv"
    b.write_text('published_at,title,source\n'
                 f'{T},"Bitcoin surges past $100k",x\n'
                 '2025-01-02T09:10:00Z,Solana network hack,y\n'
                 ',missing time,z\n')
    c = tmp_path / "c.csv.gz"
    c.write_bytes(gzip.compress(b.read_bytes()))
    out = [load_news_file(p, scorer=CountingScorer(), cache_dir=None) for p in (a, b, c)]
    assert out[0].by_base == out[1].by_base == out[2].by_base
    assert out[1].counts.skipped == 1 and out[1].counts.first_bad is not None
    btc, sol = out[0].by_base["BTC"], out[0].by_base["SOL"]
    assert btc[0].published_ms == T_MS and btc[0].score == 0.8 and btc[0].impact == 7
    assert sol[0].event_type == "hack/exploit" and sol[0].score == -0.6


def test_symbols_from_the_tagger_not_the_archive_and_untagged_go_to_market(
        tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "n.jsonl", [
        {"published_at": T, "title": "Binance Market Update: Top Stories", "tickers": ["BTC"]},
        {"published_at": T, "title": "XRP and Ethereum rally", "tickers": ["S", "A"]},
    ])
    res = load_news_file(p, scorer=CountingScorer(), cache_dir=None)
    assert set(res.by_base) == {MARKET, "XRP", "ETH"}
    assert res.counts.tagged == 1 and res.counts.by_symbol == {"XRP": 1, "ETH": 1}
    aliased = load_news_file(p, settings=SentimentSettings(symbol_aliases={"BNB": ["binance"]}),
                             scorer=CountingScorer(), cache_dir=None)
    assert "BNB" in aliased.by_base


def test_duplicates_keep_the_earliest(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "n.jsonl", [
        {"published_at": "2025-01-02T10:00:00Z", "title": "Bitcoin surges!"},
        {"published_at": T, "title": "bitcoin SURGES"},
    ])
    res = load_news_file(p, scorer=CountingScorer(), cache_dir=None)
    assert res.counts.duplicates == 1 and res.counts.headlines == 1
    assert res.by_base["BTC"][0].published_ms == T_MS


def test_each_headline_is_scored_once_then_read_from_the_cache(tmp_path: Path) -> None:
    rows = [{"published_at": f"2025-01-02T09:{m:02d}:00Z", "title": f"Bitcoin surges {m}"}
            for m in range(50)]
    p = _jsonl(tmp_path / "n.jsonl", rows)  # type: ignore[arg-type]
    cache = tmp_path / "cache"
    s1 = CountingScorer()
    first = load_news_file(p, scorer=s1, cache_dir=cache)
    assert len(s1.seen) == 50 and first.counts.scored == 50 and first.counts.cache_hits == 0
    s2 = CountingScorer()
    second = load_news_file(p, scorer=s2, cache_dir=cache)
    assert s2.seen == [] and second.counts.cache_hits == 50 and second.counts.scored == 0
    assert second.by_base == first.by_base
    # one new headline: only it is scored
    _jsonl(p, [*rows, {"published_at": T, "title": "Ethereum hack"}])  # type: ignore[list-item]
    s3 = CountingScorer()
    third = load_news_file(p, scorer=s3, cache_dir=cache)
    assert s3.seen == ["Ethereum hack"] and third.counts.cache_hits == 50
    # another scorer version does not reuse the scores
    s4 = CountingScorer(version="2")
    load_news_file(p, scorer=s4, cache_dir=cache)
    assert len(s4.seen) == 51
    assert (cache / "news_scores.sqlite").is_file()


def test_unreadable_cache_folder_only_turns_the_cache_off(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = _jsonl(tmp_path / "n.jsonl", [{"published_at": T, "title": "Bitcoin surges"}])
    res = load_news_file(p, scorer=CountingScorer(), cache_dir=blocker / "sub")
    assert res.counts.cache.startswith("off") and res.by_base["BTC"]


@pytest.mark.parametrize("make,needle", [
    (lambda d: d / "absent.jsonl", "cannot be read"),
    (lambda d: d, "cannot be read"),
    (lambda d: _trunc_gz(d / "t.jsonl.gz"), "cannot be read"),
    (lambda d: _jsonl(d / "e.jsonl", ["nope", "{}"]), "no usable headlines"),
])
def test_unreadable_file_is_one_clear_error(tmp_path: Path, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=needle) as e:
        load_news_file(make(tmp_path), scorer=CountingScorer(), cache_dir=None)
    assert "\n" not in str(e.value)


def _trunc_gz(p: Path) -> Path:
    data = gzip.compress(b"".join(
        json.dumps({"published_at": T, "title": f"t{i}"}).encode() + b"\n" for i in range(2000)))
    p.write_bytes(data[: len(data) // 2])
    return p


def test_the_cache_tag_follows_what_the_scores_depend_on() -> None:
    from engine.data.newsfile import scorer_tag

    base = scorer_tag("lexicon", SentimentSettings())
    assert base == scorer_tag("lexicon", SentimentSettings())
    assert base.startswith("lexicon:")
    assert base != scorer_tag("lexicon", SentimentSettings(symbol_aliases={"PEPE": ["frog"]}))
    assert base != scorer_tag("rules", SentimentSettings())
    # settings a scorer does not read leave its cache alone
    assert base == scorer_tag("lexicon", SentimentSettings(poll_seconds=60))
