"""Extra columns of `sentitrade sentiment eval`: event types, tickers, archive tags.

Kept out of `evaluate.py` (labels only) and `cli.py` (wiring only) so each reads in one
sitting; the metrics themselves are in `sentiment.crosscheck`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from sentiment.crosscheck import archive_agreement, event_report, symbol_report
from sentiment.evaluate import DataError, _jsonl_records, read_text
from sentiment.items import Scorer

__all__ = ["column_checks", "print_checks"]


def _records(path: Path, encoding: str | None) -> list[dict[str, str]]:
    if path.suffix.lower() in (".jsonl", ".json"):
        return _jsonl_records(path, encoding)
    return list(csv.DictReader(io.StringIO(read_text(path, encoding))))


def _split(v: str) -> list[str]:
    return [x.strip() for x in v.replace(",", "|").split("|") if x.strip()]


def column_checks(scorer: Scorer, path: Path, text_col: str, event_col: str | None,
                  tickers_col: str | None, tags_col: str | None, encoding: str | None = None,
                  limit: int = 0) -> dict[str, object]:
    """Score the file's texts once and compare events/symbols with the given columns."""
    recs = [r for r in _records(path, encoding) if (r.get(text_col) or "").strip()]
    if limit:
        recs = recs[:limit]
    cols = [c for c in (event_col, tickers_col) if c] + _split(tags_col or "")
    for c in cols:
        if recs and c not in recs[0]:
            raise DataError(f"{path}: no column {c!r}")
    texts = [r[text_col].strip() for r in recs]
    scores = scorer.score(texts)
    out: dict[str, object] = {}
    events = [s.event_type for s in scores]
    if event_col:
        out["events"] = event_report(events, [r[event_col].strip() for r in recs])
    if tags_col:
        tags = [frozenset(t.lower() for c in _split(tags_col) for t in _split(r[c]))
                for r in recs]
        out["archive_agreement"] = archive_agreement(events, tags)
    if tickers_col:
        out["symbols"] = symbol_report(texts, [s.symbols for s in scores],
                                       [_split(r[tickers_col].upper()) for r in recs])
    return out


def print_checks(checks: dict[str, object], echo: Callable[[str], None]) -> None:
    """Human-readable tables of `column_checks`' result."""
    ev = checks.get("events")
    if isinstance(ev, dict):
        echo(f"event type accuracy: {ev['accuracy']:.4f}")
        echo(f"{'event':<14}{'precision':>10}{'recall':>10}{'predicted':>10}{'support':>10}")
        for t, m in ev["per_type"].items():
            echo(f"{t:<14}{m['precision']:>10.4f}{m['recall']:>10.4f}"
                 f"{m['predicted']:>10d}{m['support']:>10d}")
    ag = checks.get("archive_agreement")
    if isinstance(ag, dict):
        echo("archive tags agreeing with our event type:")
        for t, m in ag.items():
            echo(f"  {t:<14}{m['archive_agrees']:>5d} / {m['predicted']:<5d} ({m['share']:.2f})")
    sy = checks.get("symbols")
    if isinstance(sy, dict):
        echo(f"{'symbol':<8}{'precision':>10}{'recall':>10}{'ours':>7}{'archive':>9}")
        for s, m in sy.items():
            echo(f"{s:<8}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['predicted']:>7d}"
                 f"{m['support']:>9d}")
            for t in m["only_ours"][:2]:
                echo(f"    only ours:    {t[:90]}")
            for t in m["only_archive"][:2]:
                echo(f"    only archive: {t[:90]}")
