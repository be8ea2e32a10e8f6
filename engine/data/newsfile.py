"""News for backtests: a file of timestamped headlines (or the database), scored once.

Why a file: a trader replays a year of real headlines through the same point-in-time
aggregation the live engine uses (`sentiment.pointintime`), without first loading them
into the database. Format: JSON lines or CSV, optionally gzip-compressed, one headline a
row with ``published_at`` (ISO-8601; no zone means UTC; ``published``, ``time``, ``date``
or ``timestamp`` are accepted too, as are epoch seconds or ms) and ``title``; optional
``source`` and ``kind`` (the source kind the aggregation weights, default ``news``).

- Symbols: the sentiment package's `SymbolTagger` on the title (``[sentiment]
  symbol_aliases`` apply) joined with the symbols the scorer itself found, the rule the
  live pipeline stores (`engine.data.news`), so `--news FILE` and `--news db` agree.
  An archive's own ``tickers`` are ignored: on the reference archive they are noisy
  (``Bitcoin Cash Price Eyes ...`` and ``Binance Market Update`` carry BTC; 6,908 BTC tags
  where 3,939 titles name Bitcoin), and a coin the title does not name cannot be what
  the headline's sentiment is about.
- Duplicates by the live dedup key (`sentiment.dedup.title_hash`) keep the earliest,
  as the database does, so `--news FILE` and `--news db` see the same items.
- Each headline is scored once per scorer: scores and symbols are cached in SQLite
  (``var/cache/news_scores.sqlite``) under (sha256 of the title, scorer tag). The title
  is only stripped, not otherwise normalised: scorers read case (``LINK`` the coin,
  ``link`` the word), punctuation and spacing, and a cache hit must return exactly what
  scoring the text (as the live pipeline does) would. The tag is the scorer's name plus
  a fingerprint of what its output depends on: the code of the sentiment modules it
  runs and its model files (and this module's), the settings that reach it, the
  ``version`` attribute of a scorer object passed in. A retrained model or a changed
  alias table means a rescore, never stale scores; a change elsewhere in the package
  does not (an LLM scorer's calls cost money).
- Bad rows (no time, an unparsable time, no title, broken JSON) are skipped and counted;
  a file that cannot be read raises `DataError` with one line. `--news db` reads the
  database instead (`engine.backtest.inputs.news_for_cli`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import math
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import DataError
from sentiment.config import SentimentSettings
from sentiment.dedup import title_hash
from sentiment.pointintime import NewsItem

__all__ = ["DEFAULT_CACHE_DIR", "MARKET", "LoadedNews", "NewsCounts", "load_news_file",
           "parse_time", "read_headlines", "scorer_tag"]

DEFAULT_CACHE_DIR = Path("var/cache")
CACHE_FILE = "news_scores.sqlite"
TIME_FIELDS = ("published_at", "published", "time", "date", "timestamp")
MARKET = "*"  # same key as `sentiment.aggregate.MARKET`: items naming no coin
_CHUNK = 2048  # headlines per scorer call; cached after each, so an interrupted run keeps them
_SQL_IN = 500


@dataclass(frozen=True, slots=True)
class Headline:
    """One usable row of a news file."""

    published_ms: int
    title: str
    source: str = ""
    kind: str = "news"


@dataclass(slots=True)
class NewsCounts:
    """What loading the news did, for the one summary line and `--json`."""

    source: str
    scorer: str
    rows: int = 0
    skipped: int = 0
    duplicates: int = 0
    headlines: int = 0
    tagged: int = 0
    scored: int = 0
    cache_hits: int = 0
    items: int = 0
    first_bad: str | None = None
    cache: str = ""
    seconds: float = 0.0
    by_symbol: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summarise(self, by_base: dict[str, list[NewsItem]], t0: float) -> None:
        """Items and headlines per coin (most first), and the seconds since `t0`."""
        self.items = sum(len(v) for v in by_base.values())
        self.by_symbol = dict(sorted(((k, len(v)) for k, v in by_base.items() if k != MARKET),
                                     key=lambda kv: -kv[1]))
        self.seconds = time.perf_counter() - t0

    def line(self) -> str:
        """``news FILE: 28,798 headlines (...), 18,028 tagged, lexicon: 0 scored, ...``"""
        bad = (f", {self.skipped:,} bad rows skipped (first: {self.first_bad})"
               if self.skipped else "")
        dup = f", {self.duplicates:,} duplicates merged" if self.duplicates else ""
        top = ", ".join(f"{k} {v:,}" for k, v in list(self.by_symbol.items())[:5])
        scoring = ("scores stored in the database" if self.cache == "database" else
                   f"{self.scored:,} scored, {self.cache_hits:,} from cache")
        return (f"news {self.source}: {self.headlines:,} headlines{bad}{dup}; "
                f"{self.tagged:,} name a coin ({top}); scorer {self.scorer}: {scoring}; "
                f"{self.seconds:.2f} s")


@dataclass(slots=True)
class LoadedNews:
    """Scored items by base asset (`MARKET` for headlines naming no coin) and counts."""

    by_base: dict[str, list[NewsItem]]
    counts: NewsCounts


# ------------------------------------------------------------------ reading


def parse_time(value: Any) -> int | None:
    """ms since the epoch (UTC) from ISO-8601 text or epoch s/ms; None when unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x = float(value)
    else:
        s = str(value).strip()
        if not s:
            return None
        try:
            x = float(s)
        except ValueError:
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                return None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return round(dt.timestamp() * 1000)
    if not math.isfinite(x) or x <= 0:
        return None
    return round(x if x > 1e11 else x * 1000)  # ms after 1973, seconds before 5138


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    raw: Any = gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _is_csv(path: Path, first: str) -> bool:
    """By the name (``.csv``, ``.jsonl``, ``.json``, ``.ndjson``, each ``.gz`` too), else
    by the first line (JSON lines start with ``{``)."""
    name = path.name.lower().removesuffix(".gz")
    known = name.endswith((".csv", ".jsonl", ".json", ".ndjson"))
    return name.endswith(".csv") if known else not first.lstrip().startswith("{")


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row dict) per data row, or (line, why) for a row that is not one."""
    with _open_text(path) as fh:
        first = fh.readline()
        lines = itertools.chain([first], fh)
        if _is_csv(path, first):
            reader = csv.DictReader(lines)
            if reader.fieldnames is None:
                return
            for i, row in enumerate(reader, start=2):
                yield i, {(k or "").strip().lower(): v for k, v in row.items()}
            return
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                yield i, "not valid JSON"
                continue
            yield (i, obj) if isinstance(obj, dict) else (i, "not a JSON object")


def read_headlines(path: Path) -> tuple[list[Headline], NewsCounts]:
    """The usable headlines of `path`, oldest first, duplicates merged (earliest kept)."""
    counts = NewsCounts(source=str(path), scorer="")
    rows: list[Headline] = []

    def bad(line: int, why: str) -> None:
        counts.skipped += 1
        if counts.first_bad is None:
            counts.first_bad = f"line {line}: {why}"

    try:
        for line, rec in _records(path):
            counts.rows += 1
            if isinstance(rec, str):
                bad(line, rec)
                continue
            stamp = next((rec[k] for k in TIME_FIELDS if rec.get(k) not in (None, "")), None)
            if stamp is None:
                bad(line, f"no time (one of {', '.join(TIME_FIELDS)})")
                continue
            ms = parse_time(stamp)
            if ms is None:
                bad(line, f"unparsable time {str(stamp)[:40]!r}")
                continue
            title = str(rec.get("title") or "").strip()
            if not title:
                bad(line, "no title")
                continue
            rows.append(Headline(ms, title, str(rec.get("source") or ""),
                                 str(rec.get("kind") or "news")))
    except (OSError, EOFError, zlib.error, UnicodeError, csv.Error) as e:
        raise DataError(f"news file {path} cannot be read: {type(e).__name__}: {e}") from None
    if not rows:
        why = f" ({counts.skipped} bad rows, first at {counts.first_bad})" if counts.skipped else ""
        raise DataError(f"news file {path} has no usable headlines{why}: each row needs "
                        "published_at (ISO-8601 UTC) and title")
    rows.sort(key=lambda h: h.published_ms)
    seen: set[str] = set()
    out: list[Headline] = []
    for h in rows:
        key = title_hash(h.title)
        if key in seen:
            counts.duplicates += 1
            continue
        seen.add(key)
        out.append(h)
    counts.headlines = len(out)
    return out, counts


# ------------------------------------------------------------------ scoring, cached


# the module each scorer starts from; its code is that module and what it imports
_ENTRY = {"lexicon": "headline", "rules": "lexicon", "finbert": "finbert", "openai": "llm",
          "ensemble": "scorers"}


def _code_fingerprint(name: str) -> str:
    """Hash of the sentiment modules scorer `name` runs (its entry module and every
    sentiment module it imports, found by reading the imports), the shipped model files
    when the learned model is among them, and this file (what a cached row holds). Only
    these: a change elsewhere in the package must not make a paid LLM rescore a year."""
    import ast

    import sentiment

    root = Path(sentiment.__file__).resolve().parent
    todo, seen = [_ENTRY.get(name, "scorers")], set()
    while todo:
        mod = todo.pop()
        path = root / f"{mod}.py"
        if mod in seen or not path.is_file():
            continue
        seen.add(mod)
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module == "sentiment":
                todo.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sentiment."):
                todo.append(str(node.module).split(".")[1])
            elif isinstance(node, ast.Import):
                todo.extend(a.name.split(".")[1] for a in node.names
                            if a.name.startswith("sentiment."))
    files = [root / f"{m}.py" for m in sorted(seen)]
    if "linear" in seen:
        files += sorted(p for p in (root / "model").glob("*") if p.is_file())
    h = hashlib.sha256()
    for p in [*files, Path(__file__)]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def scorer_tag(name: str, settings: SentimentSettings, scorer: Any = None) -> str:
    """``name:fingerprint``: the cache key part that changes when the scores would."""
    relevant = settings.model_dump(include={
        "model", "openai_base_url", "openai_model", "max_length", "quantize",
        "extra_lexicon", "symbol_aliases", "ensemble_weights"})
    doc = json.dumps({"v": str(getattr(scorer, "version", "")), "settings": relevant,
                      "code": _code_fingerprint(name)}, sort_keys=True, default=str)
    return f"{name}:{hashlib.sha256(doc.encode()).hexdigest()[:16]}"


_Row = tuple[float, float, str, int, str]  # score, confidence, event, impact, "BTC,ETH"


class _Cache:
    """(title sha256, scorer tag) -> score row, in one SQLite file; off when unusable."""

    def __init__(self, directory: Path | None) -> None:
        self.db: sqlite3.Connection | None = None
        self.where = "off"
        if directory is None:
            return
        path = directory / CACHE_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS scores (key BLOB NOT NULL, scorer TEXT NOT NULL, "
                "score REAL, confidence REAL, event_type TEXT, impact INTEGER, symbols TEXT, "
                "PRIMARY KEY (key, scorer)) WITHOUT ROWID")
            self.where = str(path)
        except (OSError, sqlite3.Error) as e:
            self.db = None
            self.where = f"off ({path}: {e})"

    def get(self, tag: str, keys: Sequence[bytes]) -> dict[bytes, _Row]:
        out: dict[bytes, _Row] = {}
        if self.db is None:
            return out
        for i in range(0, len(keys), _SQL_IN):
            part = keys[i : i + _SQL_IN]
            q = ("SELECT key, score, confidence, event_type, impact, symbols FROM scores "
                 f"WHERE scorer = ? AND key IN ({','.join('?' * len(part))})")
            for k, *row in self.db.execute(q, (tag, *part)):
                out[k] = (float(row[0]), float(row[1]), str(row[2]), int(row[3]),
                          str(row[4] or ""))
        return out

    def put(self, tag: str, rows: dict[bytes, _Row]) -> None:
        if self.db is None or not rows:
            return
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(k, tag, *r) for k, r in rows.items()])
        except sqlite3.Error as e:  # a full disk must not stop the backtest
            self.where = f"off ({e})"
            self.db = None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def load_news_file(path: Path, scorer_name: str | None = None,
                   settings: SentimentSettings | None = None, *,
                   cache_dir: Path | None = DEFAULT_CACHE_DIR, scorer: Any = None,
                   on_progress: Callable[[int, int], None] | None = None) -> LoadedNews:
    """Read, tag and score `path` (see the module doc); `scorer` replaces the one
    `make_scorer` would build (tests); `cache_dir=None` turns the cache off."""
    t0 = time.perf_counter()
    s = settings or SentimentSettings()
    name = scorer_name or str(getattr(scorer, "name", "") or s.scorer)
    heads, counts = read_headlines(Path(path))
    tag = scorer_tag(name, s, scorer)
    counts.scorer = name
    # one key per headline: duplicates were merged on a coarser key
    keys = [hashlib.sha256(h.title.encode("utf-8")).digest() for h in heads]
    cache = _Cache(cache_dir)
    try:
        rows = cache.get(tag, keys)
        counts.cache_hits = len(rows)
        todo = [k for k in keys if k not in rows]
        if todo:
            rows.update(_score(todo, heads, keys, name, s, scorer, cache, tag, on_progress))
        counts.scored = len(todo)
        counts.cache = cache.where
    finally:
        cache.close()
    by_base: dict[str, list[NewsItem]] = {}
    for h, k in zip(heads, keys, strict=True):
        sc, cf, ev, imp, syms = rows[k]
        item = NewsItem(h.published_ms, float(sc), float(cf), h.kind, ev, int(imp))
        names = syms.split(",") if syms else [MARKET]
        counts.tagged += bool(syms)
        for b in names:
            by_base.setdefault(b, []).append(item)
    counts.summarise(by_base, t0)
    return LoadedNews(by_base, counts)


def _score(todo: list[bytes], heads: list[Headline], keys: list[bytes], name: str,
           settings: SentimentSettings, scorer: Any, cache: _Cache, tag: str,
           on_progress: Callable[[int, int], None] | None) -> dict[bytes, _Row]:
    from sentiment.errors import ScorerError
    from sentiment.symbols import SymbolTagger

    text = {k: h.title for h, k in zip(heads, keys, strict=True)}
    try:
        if scorer is None:
            from sentiment.scorers import make_scorer

            scorer = make_scorer(name, settings)
        tagger = SymbolTagger(settings.symbol_aliases)
        out: dict[bytes, _Row] = {}
        for i in range(0, len(todo), _CHUNK):
            part = todo[i : i + _CHUNK]
            texts = [text[k] for k in part]
            scores = scorer.score(texts)
            if len(scores) != len(texts):
                raise DataError(f"scorer {name} returned {len(scores)} scores for "
                                f"{len(texts)} headlines")
            fresh = {k: (float(sc.score), float(sc.confidence), str(sc.event_type),
                         int(sc.impact), ",".join(dict.fromkeys((*tagger.tag(t), *sc.symbols))))
                     for k, t, sc in zip(part, texts, scores, strict=True)}
            cache.put(tag, fresh)
            out.update(fresh)
            if on_progress is not None:
                on_progress(min(i + _CHUNK, len(todo)), len(todo))
    except (ScorerError, ValueError) as e:
        raise DataError(f"scorer {name} cannot score the news: {e}") from None
    return out
