"""Reliability of `Score.confidence`: expected calibration error and the reliability
diagram's bins, so "confidence 0.8" can be checked to mean "right about 80% of the time".
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["reliability"]


def reliability(conf: Sequence[float], correct: Sequence[bool],
                bins: int = 10) -> dict[str, object]:
    """ECE (bin-weighted |accuracy - mean confidence|) and per-bin rows of the diagram.

    Equal-width bins over [0, 1]; empty bins are left out. Also the mean confidence and
    accuracy overall, whose gap shows over- or under-confidence at a glance.
    """
    if len(conf) != len(correct):
        raise ValueError("conf and correct differ in length")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    n = len(conf)
    sums: list[list[float]] = [[0.0, 0.0, 0.0] for _ in range(bins)]  # count, conf, hits
    for c, ok in zip(conf, correct, strict=True):
        b = min(bins - 1, max(0, int(c * bins)))
        sums[b][0] += 1
        sums[b][1] += c
        sums[b][2] += 1.0 if ok else 0.0
    rows: list[dict[str, float]] = []
    ece = 0.0
    for b, (cnt, cs, hits) in enumerate(sums):
        if not cnt:
            continue
        mc, acc = cs / cnt, hits / cnt
        ece += cnt / n * abs(acc - mc)
        rows.append({"lo": b / bins, "hi": (b + 1) / bins, "n": cnt,
                     "confidence": round(mc, 4), "accuracy": round(acc, 4)})
    return {
        "ece": round(ece, 4),
        "mean_confidence": round(sum(conf) / n, 4) if n else 0.0,
        "accuracy": round(sum(1 for x in correct if x) / n, 4) if n else 0.0,
        "bins": rows,
    }
