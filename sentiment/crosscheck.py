"""Event-type and symbol checks for `sentitrade sentiment eval --event-col/--tickers-col`.

Event types are scored against hand labels (precision per type: when the scorer says
"hack/exploit", how often is it one?) and cross-checked against a news archive's own
`category`/`tags`, which are coarse and noisy, so they are reported as agreement, not
truth. Symbols are compared with an archive's ticker tags for the majors; the
disagreements are listed because the archive is often the one that is wrong
("ONE", "NEAR" as English words; coins mentioned only in a link).
"""

from __future__ import annotations

from collections.abc import Sequence

from sentiment.items import EVENT_TYPES

__all__ = ["ARCHIVE_TAGS", "MAJORS", "archive_agreement", "event_report", "symbol_report"]

MAJORS: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "BNB")

# Our event type -> archive tags/categories that express the same thing.
ARCHIVE_TAGS: dict[str, frozenset[str]] = {
    "hack/exploit": frozenset({"hack", "security"}),
    "regulatory": frozenset({"regulation"}),
    "market": frozenset({"price", "whale", "trading"}),
    "partnership": frozenset({"partnership", "funding", "exchange"}),
}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "predicted": tp + fp, "support": tp + fn}


def event_report(pred: Sequence[str], truth: Sequence[str]) -> dict[str, object]:
    """Accuracy and per-type precision/recall of predicted vs hand-labelled event types."""
    if len(pred) != len(truth):
        raise ValueError("pred and truth differ in length")
    per = {}
    for t in EVENT_TYPES:
        tp = sum(1 for p, y in zip(pred, truth, strict=True) if p == t and y == t)
        fp = sum(1 for p, y in zip(pred, truth, strict=True) if p == t and y != t)
        fn = sum(1 for p, y in zip(pred, truth, strict=True) if p != t and y == t)
        per[t] = _prf(tp, fp, fn)
    acc = sum(1 for p, y in zip(pred, truth, strict=True) if p == y) / len(pred) if pred else 0.0
    return {"accuracy": round(acc, 4), "per_type": per}


def archive_agreement(pred: Sequence[str], tags: Sequence[frozenset[str]]) -> dict[str, object]:
    """For each predicted type with an archive counterpart: the share of its headlines
    whose archive tags/category include a matching tag."""
    out: dict[str, object] = {}
    for t, want in ARCHIVE_TAGS.items():
        idx = [i for i, p in enumerate(pred) if p == t]
        hit = sum(1 for i in idx if tags[i] & want)
        out[t] = {"predicted": len(idx), "archive_agrees": hit,
                  "share": round(hit / len(idx), 4) if idx else 0.0}
    return out


def symbol_report(texts: Sequence[str], pred: Sequence[Sequence[str]],
                  archive: Sequence[Sequence[str]], symbols: Sequence[str] = MAJORS,
                  examples: int = 5) -> dict[str, object]:
    """Precision/recall of our symbols against the archive's tickers, per symbol, with a
    few disagreeing headlines each way to read."""
    per: dict[str, object] = {}
    for s in symbols:
        tp = fp = fn = 0
        only_ours: list[str] = []
        only_archive: list[str] = []
        for text, p, a in zip(texts, pred, archive, strict=True):
            ours, theirs = s in p, s in a
            tp += ours and theirs
            fp += ours and not theirs
            fn += theirs and not ours
            if ours and not theirs and len(only_ours) < examples:
                only_ours.append(text)
            if theirs and not ours and len(only_archive) < examples:
                only_archive.append(text)
        per[s] = {**_prf(tp, fp, fn), "only_ours": only_ours, "only_archive": only_archive}
    return per
