"""Cutting candles in time: in-sample / out-of-sample windows that never overlap (used
by hyperopt's out-of-sample check and by the walk-forward folds)."""

from __future__ import annotations

from engine.data.candles import Candles


def span(candles: dict[str, Candles]) -> tuple[int, int]:
    return (
        min(int(c.open_time[0]) for c in candles.values()),
        max(int(c.open_time[-1]) for c in candles.values()) + 1,
    )


def split_candles(
    candles: dict[str, Candles], at_ms: int
) -> tuple[dict[str, Candles], dict[str, Candles]]:
    """(before, from) ``at_ms`` for every pair; pairs empty on one side are dropped there."""
    a = {s: c.between(None, at_ms) for s, c in candles.items()}
    b = {s: c.between(at_ms, None) for s, c in candles.items()}
    return {s: c for s, c in a.items() if len(c)}, {s: c for s, c in b.items() if len(c)}


def out_of_sample(
    candles: dict[str, Candles], fraction: float = 0.3
) -> tuple[dict[str, Candles], dict[str, Candles]]:
    """In-sample = the first (1 - fraction) of the time span, out-of-sample = the rest."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    t0, t1 = span(candles)
    return split_candles(candles, int(t0 + (t1 - t0) * (1.0 - fraction)))
