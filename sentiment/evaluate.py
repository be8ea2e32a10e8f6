"""Labelled-data loading and 3-class metrics for `sentitrade sentiment eval`.

No scikit-learn dependency: three classes, a confusion matrix and per-class precision,
recall and F1 are a few lines, and keeping them here keeps the CLI import light.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sentiment.items import LABELS, Label, Scorer

__all__ = [
    "DataError",
    "EvalReport",
    "evaluate",
    "load_csv",
    "load_dataset",
    "load_phrasebank",
    "normalise_label",
    "read_text",
]

Format = Literal["phrasebank", "csv"]

_LABEL_MAP: dict[str, Label] = {
    "positive": "positive", "pos": "positive", "1": "positive", "+1": "positive",
    "1.0": "positive", "bullish": "positive",
    "negative": "negative", "neg": "negative", "-1": "negative", "-1.0": "negative",
    "bearish": "negative",
    "neutral": "neutral", "neu": "neutral", "0": "neutral", "0.0": "neutral",
}


class DataError(ValueError):
    """The evaluation data is unreadable or malformed; the message names file and line."""


def normalise_label(raw: str) -> Label:
    """positive/negative/neutral, also 1/-1/0 and bullish/bearish (case-insensitive)."""
    lab = _LABEL_MAP.get(raw.strip().lower())
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


def load_csv(
    path: Path, text_col: str = "text", label_col: str = "label", encoding: str | None = None
) -> list[tuple[str, Label]]:
    """A CSV with a header row; columns chosen by name."""
    reader = csv.DictReader(io.StringIO(read_text(path, encoding)))
    cols = reader.fieldnames or []
    for c in (text_col, label_col):
        if c not in cols:
            raise DataError(f"{path}: no column {c!r} (columns: {', '.join(cols) or 'none'})")
    rows: list[tuple[str, Label]] = []
    for n, rec in enumerate(reader, 2):
        text = (rec.get(text_col) or "").strip()
        if not text:
            continue
        try:
            rows.append((text, normalise_label(rec.get(label_col) or "")))
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
) -> list[tuple[str, Label]]:
    """Load by explicit format, or guess: `.csv` is CSV, anything else PhraseBank."""
    if fmt is None:
        fmt = "csv" if path.suffix.lower() == ".csv" else "phrasebank"
    if fmt == "csv":
        return load_csv(path, text_col, label_col, encoding)
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
    for i in range(0, len(texts), batch):
        preds.extend(s.label for s in scorer.score(texts[i : i + batch]))
        if progress is not None:
            progress(min(batch, len(texts) - i))
    dt = time.perf_counter() - t0
    acc, macro, per, conf = metrics([lab for _, lab in rows], preds)
    return EvalReport(
        n=len(rows), accuracy=acc, macro_f1=macro, per_class=per, confusion=conf,
        seconds=dt, headlines_per_s=len(rows) / dt if dt > 0 else float("inf"),
        scorer=getattr(scorer, "name", type(scorer).__name__),
    )
