"""Composable filter layers between a raw signal and an order, each saying why it
dropped a signal.

A strategy builds one `SignalFilter` from the layers it wants and applies it to its
entry column. The first layer a candidate fails drops it; the filter writes
``filter_drop`` (the 1-based layer number, 0 = kept or no signal) into the frame and
returns a `FilterReport` with counts and one line per dropped row, so a backtest report
or the signal log can say "dropped 41 by volume, 12 by noise" instead of a silent
"no trade". All layers are causal and windowed (exact in the live runtime's window).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.signals.windows import true_range_mean, window_mean

F64 = npt.NDArray[np.float64]
BoolA = npt.NDArray[np.bool_]


class Layer(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, frame: Any) -> tuple[BoolA, F64]:
        """(pass per row, the measured value per row, for the drop line)."""
        ...


@dataclass(frozen=True)
class ColumnFloor:
    """A frame column at least `minimum` on the signal's candle."""

    minimum: float
    column: str
    name: str

    def check(self, frame: Any) -> tuple[BoolA, F64]:
        v = np.asarray(frame[self.column], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return v >= self.minimum, v


@dataclass(frozen=True)
class MinConfidence(ColumnFloor):
    """The signal's own confidence (a pattern's, the sentiment's) at least `minimum`."""

    column: str = "pattern_confidence"
    name: str = "confidence"


@dataclass(frozen=True)
class PatternStrength(ColumnFloor):
    """The formation's height in ATR at least `minimum` (small patterns are noise)."""

    column: str = "pattern_strength"
    name: str = "strength"


@dataclass(frozen=True, slots=True)
class NoiseRatio:
    """1 - Kaufman's efficiency ratio over `period`: the share of the path that went
    nowhere. A signal in a market that is mostly noise is dropped."""

    maximum: float
    period: int = 20
    name: str = "noise"

    def check(self, frame: Any) -> tuple[BoolA, F64]:
        c = np.asarray(frame["close"], dtype=np.float64)
        n = c.shape[0]
        noise = np.full(n, np.nan)
        if n > self.period:
            path = np.abs(np.diff(c))
            travel = np.lib.stride_tricks.sliding_window_view(path, self.period).sum(axis=1)
            net = np.abs(c[self.period:] - c[:-self.period])
            with np.errstate(invalid="ignore", divide="ignore"):
                noise[self.period:] = np.where(travel > 0, 1.0 - net / travel, 1.0)
        with np.errstate(invalid="ignore"):
            return noise <= self.maximum, noise


@dataclass(frozen=True, slots=True)
class VolumeConfirmation:
    """The signal candle's volume at least `multiple` x the mean of the `period`
    candles before it."""

    multiple: float
    period: int = 20
    name: str = "volume"

    def check(self, frame: Any) -> tuple[BoolA, F64]:
        v = np.asarray(frame["volume"], dtype=np.float64)
        base = window_mean(v, self.period, lag=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(base > 0, v / base, np.nan)
            return ratio >= self.multiple, ratio


@dataclass(frozen=True, slots=True)
class VolatilityAdjustment:
    """Scales the stake to a target volatility (ATR / close): a position in a market
    twice as volatile as the target gets half the stake; when the scale falls under
    `min_scale` the signal is dropped (too volatile to size sensibly)."""

    target_atr_pct: float = 0.004
    min_scale: float = 0.25
    max_scale: float = 1.0
    period: int = 14
    name: str = "volatility"

    def scale(self, frame: Any) -> F64:
        h = np.asarray(frame["high"], dtype=np.float64)
        lo = np.asarray(frame["low"], dtype=np.float64)
        c = np.asarray(frame["close"], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            atr_pct = true_range_mean(h, lo, c, self.period) / c
            s = np.clip(self.target_atr_pct / atr_pct, 0.0, self.max_scale)
        return np.where(np.isnan(s), 0.0, s)

    def check(self, frame: Any) -> tuple[BoolA, F64]:
        s = self.scale(frame)
        return s >= self.min_scale, s


@dataclass(slots=True)
class FilterReport:
    """What the filter did to one column: kept rows, drops by layer, one line each."""

    candidates: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    lines: list[tuple[int, str, str]] = field(default_factory=list)  # (row, layer, detail)


class SignalFilter:
    """Layers applied in order; the first failing one drops the candidate."""

    def __init__(self, *layers: Layer) -> None:
        self.layers = layers

    def apply(self, frame: Any, column: str = "enter_long") -> FilterReport:
        """Drop failing candidates from ``frame[column]`` (in place), write
        ``filter_drop`` and, for a `VolatilityAdjustment`, multiply ``stake_scale``."""
        n = frame.n
        sig = np.asarray(frame[column], dtype=np.bool_).copy() if column in frame else (
            np.zeros(n, dtype=np.bool_))
        drop = np.zeros(n)
        report = FilterReport(candidates=int(sig.sum()))
        alive = sig.copy()
        scale = np.ones(n)
        for k, layer in enumerate(self.layers, start=1):
            ok, value = layer.check(frame)
            failed = alive & ~ok
            for row in np.flatnonzero(failed):
                report.lines.append((int(row), layer.name, f"{layer.name} {value[row]:.4g}"))
            report.dropped[layer.name] += int(failed.sum())
            drop[failed] = k
            alive &= ok
            if isinstance(layer, VolatilityAdjustment):
                scale = layer.scale(frame)
        report.kept = int(alive.sum())
        report.lines.sort()
        frame[column] = alive
        frame["filter_drop"] = drop
        if any(isinstance(layer, VolatilityAdjustment) for layer in self.layers):
            base = np.asarray(frame.get("stake_scale", np.ones(n)), dtype=np.float64)
            frame["stake_scale"] = np.where(alive, base * scale, base)
        return report
