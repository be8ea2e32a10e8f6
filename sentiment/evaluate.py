"""Labelled-data loading and 3-class metrics for `sentitrade sentiment eval`.

No scikit-learn dependency: three classes, a confusion matrix and per-class precision,
recall and F1 are a few lines, and keeping them here keeps the CLI import light.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sentiment.calibration import reliability
from sentiment.items import LABELS, Label, Scorer

__all__ = [
    "DataError",
    "EvalReport",
    "evaluate",
    "load_csv",
    "load_dataset",
    "load_phrasebank",
    "normalise_label",
    "paired_bootstrap",
    "parse_label_map",
    "read_text",
]

Format = Literal["phrasebank", "csv", "jsonl"]

_LABEL_MAP: dict[str, Label] = {
    "positive": "positive", "pos": "positive", "1": "positive", "+1": "positive",
    "1.0": "positive", "bullish": "positive",
    "negative": "negative", "neg": "negative", "-1": "negative", "-1.0": "negative",
    "bearish": "negative",
    "neutral": "neutral", "neu": "neutral", "0": "neutral", "0.0": "neutral",
}


class DataError(ValueError):
    """The evaluation data is unreadable or malformed; the message names file and line."""


def parse_label_map(spec: str) -> dict[str, Label]:
    """`"0=negative,1=positive,2=neutral"` -> a map applied before the built-in aliases
    (the Twitter Financial News set uses 0 = bearish, where the default reads 0 = neutral)."""
    out: dict[str, Label] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        raw, sep, lab = part.partition("=")
        if not sep:
            raise DataError(f"label map entry {part!r} is not RAW=LABEL")
        out[raw.strip().lower()] = normalise_label(lab)
    return out


def normalise_label(raw: str, label_map: dict[str, Label] | None = None) -> Label:
    """positive/negative/neutral, also 1/-1/0 and bullish/bearish (case-insensitive);
    `label_map` (from `parse_label_map`) wins over these aliases."""
    key = raw.strip().lower()
    lab = (label_map or {}).get(key) or _LABEL_MAP.get(key)
    if lab is None:
        raise DataError(f"unknown label {raw.strip()!r} (use positive/negative/neutral, "
                        "1/-1/0 or bullish/bearish)")
    return lab


def read_text(path: Path, encoding: str | None = None) -> str:
    """Read a file, detecting UTF-8 (with or without BOM) vs Latin-1 unless told.

    PhraseBank's 50Agree is Latin-1 and AllAgree UTF-8: strict UTF-8 first, then
    cp1252/Latin-1, which never fails, so the user gets text rather than a traceback.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if encoding:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot decode {path} as {encoding}: {exc}") from None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def load_phrasebank(path: Path, encoding: str | None = None) -> list[tuple[str, Label]]:
    """`sentence@label` per line, split on the last `@`."""
    rows: list[tuple[str, Label]] = []
    for n, line in enumerate(read_text(path, encoding).splitlines(), 1):
        if not line.strip():
            continue
        if "@" not in line:
            raise DataError(f"{path}:{n}: expected 'sentence@label'")
        text, raw = line.rsplit("@", 1)
        try:
            rows.append((text.strip(), normalise_label(raw)))
        except DataError as exc:
            raise DataError(f"{path}:{n}: {exc}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _jsonl_records(path: Path, encoding: str | None) -> list[dict[str, str]]:
    recs: list[dict[str, str]] = []
    for n, line in enumerate(read_text(path, encoding).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: not a JSON object")
        recs.append({k: "" if v is None else str(v) for k, v in obj.items()})
    return recs


def load_csv(
    path: Path, text_col: str = "text", label_col: str = "label", encoding: str | None = None,
    label_map: dict[str, Label] | None = None, jsonl: bool = False,
) -> list[tuple[str, Label]]:
    """A CSV with a header row (or JSON lines, `jsonl=True`); columns chosen by name."""
    if jsonl:
        recs = _jsonl_records(path, encoding)
        cols = list(recs[0]) if recs else []
        reader: Sequence[dict[str, str]] | csv.DictReader[str] = recs
    else:
        reader = csv.DictReader(io.StringIO(read_text(path, encoding)))
        cols = list(reader.fieldnames or [])
    for c in (text_col, label_col):
        if c not in cols:
            raise DataError(f"{path}: no column {c!r} (columns: {', '.join(cols) or 'none'})")
    rows: list[tuple[str, Label]] = []
    for n, rec in enumerate(reader, 1 if jsonl else 2):
        text = (rec.get(text_col) or "").strip()
        if not text:
            continue
        try:
            rows.append((text, normalise_label(rec.get(label_col) or "", label_map)))
        except DataError as exc:
            raise DataError(f"{path}:{n}: {exc}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def load_dataset(
    path: Path,
    fmt: Format | None = None,
    text_col: str = "text",
    label_col: str = "label",
    encoding: str | None = None,
    label_map: dict[str, Label] | None = None,
) -> list[tuple[str, Label]]:
    """Load by explicit format, or guess: `.csv` is CSV, `.jsonl`/`.json` JSON lines,
    anything else PhraseBank."""
    if fmt is None:
        suffix = path.suffix.lower()
        fmt = "csv" if suffix == ".csv" else "jsonl" if suffix in (".jsonl", ".json") \
            else "phrasebank"
    if fmt in ("csv", "jsonl"):
        return load_csv(path, text_col, label_col, encoding, label_map, jsonl=fmt == "jsonl")
    return load_phrasebank(path, encoding)


@dataclass
class EvalReport:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix
    (`confusion[true][pred]`), plus throughput."""

    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    seconds: float
    headlines_per_s: float
    scorer: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    predictions: list[Label] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "scorer": self.scorer,
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": {
                k: {m: round(x, 4) for m, x in v.items()} for k, v in self.per_class.items()
            },
            "confusion": self.confusion,
            "seconds": round(self.seconds, 4),
            "headlines_per_s": round(self.headlines_per_s, 1),
            **({"compare": self.extra["compare"]} if "compare" in self.extra else {}),
            **({"calibration": self.extra["calibration"]} if "calibration" in self.extra
               else {}),
        }


def metrics(
    truth: Sequence[Label], pred: Sequence[Label]
) -> tuple[float, float, dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    """(accuracy, macro-F1, per-class, confusion) over the three labels."""
    if len(truth) != len(pred):
        raise ValueError("truth and pred differ in length")
    conf: dict[str, dict[str, int]] = {t: {p: 0 for p in LABELS} for t in LABELS}
    for t, p in zip(truth, pred, strict=True):
        conf[t][p] += 1
    n = len(truth)
    acc = sum(conf[c][c] for c in LABELS) / n if n else 0.0
    per: dict[str, dict[str, float]] = {}
    for c in LABELS:
        tp = conf[c][c]
        pred_c = sum(conf[t][c] for t in LABELS)
        true_c = sum(conf[c].values())
        prec = tp / pred_c if pred_c else 0.0
        rec = tp / true_c if true_c else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[c] = {"precision": prec, "recall": rec, "f1": f1, "support": float(true_c)}
    macro = sum(per[c]["f1"] for c in LABELS) / len(LABELS)
    return acc, macro, per, conf


def evaluate(
    scorer: Scorer,
    rows: Sequence[tuple[str, Label]],
    batch: int = 256,
    progress: Callable[[int], None] | None = None,
) -> EvalReport:
    """Score `rows` with `scorer` and compare with the labels; `progress(n)` is called
    after each batch with the number of rows just scored (the CLI's progress bar)."""
    texts = [t for t, _ in rows]
    t0 = time.perf_counter()
    preds: list[Label] = []
    confs: list[float] = []
    for i in range(0, len(texts), batch):
        for s in scorer.score(texts[i : i + batch]):
            preds.append(s.label)
            confs.append(s.confidence)
        if progress is not None:
            progress(min(batch, len(texts) - i))
    dt = time.perf_counter() - t0
    truth = [lab for _, lab in rows]
    acc, macro, per, conf = metrics(truth, preds)
    cal = reliability(confs, [t == p for t, p in zip(truth, preds, strict=True)])
    return EvalReport(
        n=len(rows), accuracy=acc, macro_f1=macro, per_class=per, confusion=conf,
        seconds=dt, headlines_per_s=len(rows) / dt if dt > 0 else float("inf"),
        scorer=getattr(scorer, "name", type(scorer).__name__), extra={"calibration": cal},
        predictions=preds,
    )


def paired_bootstrap(truth: Sequence[Label], ours: Sequence[Label], theirs: Sequence[Label],
                     resamples: int = 2000, seed: int = 14) -> dict[str, float]:
    """Difference ours - theirs in macro-F1 and accuracy on the same rows, with a 95%
    percentile interval from resampling the rows (both scorers on each resample), and
    the share of resamples where ours is not better.

    Paired because the two scorers see the same headlines: the interval is for the
    difference, much narrower than two separate intervals would suggest.
    """
    import numpy as np

    n = len(truth)
    if not n or len(ours) != n or len(theirs) != n:
        raise ValueError("truth and both predictions must be non-empty and equal in length")
    code = {lab: i for i, lab in enumerate(LABELS)}
    t = np.array([code[x] for x in truth])
    a = np.array([code[x] for x in ours])
    b = np.array([code[x] for x in theirs])
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))

    def f1s(pred: np.ndarray) -> np.ndarray:
        tt, pp = t[idx], pred[idx]
        out = np.zeros(resamples)
        for c in range(len(LABELS)):
            tp = ((tt == c) & (pp == c)).sum(axis=1)
            denom = (tt == c).sum(axis=1) + (pp == c).sum(axis=1)
            out += np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        return out / len(LABELS)

    d_f1 = f1s(a) - f1s(b)
    d_acc = (a[idx] == t[idx]).mean(axis=1) - (b[idx] == t[idx]).mean(axis=1)
    full = metrics(truth, ours)[1] - metrics(truth, theirs)[1]
    full_acc = float((a == t).mean() - (b == t).mean())
    return {
        "macro_f1_diff": round(full, 4),
        "macro_f1_lo": round(float(np.percentile(d_f1, 2.5)), 4),
        "macro_f1_hi": round(float(np.percentile(d_f1, 97.5)), 4),
        "p_not_better": round(float((d_f1 <= 0).mean()), 4),
        "accuracy_diff": round(full_acc, 4),
        "accuracy_lo": round(float(np.percentile(d_acc, 2.5)), 4),
        "accuracy_hi": round(float(np.percentile(d_acc, 97.5)), 4),
        "resamples": resamples,
    }
