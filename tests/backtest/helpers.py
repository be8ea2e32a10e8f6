"""Synthetic candles and a strategy whose signals the test dictates."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.candles import Candles
from engine.strategy.interface import Frame, Strategy

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
STEP = 300_000


def candles(
    symbol: str,
    o: list[float],
    h: list[float] | None = None,
    lo: list[float] | None = None,
    c: list[float] | None = None,
    start: int = T0,
) -> Candles:
    n = len(o)
    oa = np.asarray(o, dtype=np.float64)
    ca = np.asarray(c if c is not None else o, dtype=np.float64)
    ha = np.asarray(h if h is not None else np.maximum(oa, ca), dtype=np.float64)
    la = np.asarray(lo if lo is not None else np.minimum(oa, ca), dtype=np.float64)
    t = start + np.arange(n, dtype=np.int64) * STEP
    return Candles(symbol, "5m", t, oa, ha, la, ca, np.ones(n))


class Scripted(Strategy):
    """Signals given per pair as index lists: {pair: {"enter_long": [i, ...], ...}}."""

    name = "scripted"
    stoploss = -0.10

    def __init__(self, script: dict[str, dict[str, Any]], **attrs: Any) -> None:
        self.script = script
        for k, v in attrs.items():
            setattr(self, k, v)

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        s = self.script.get(metadata["pair"], {})
        for col in ("enter_long", "exit_long", "enter_short", "exit_short"):
            a = np.zeros(frame.n, dtype=np.bool_)
            a[s.get(col, [])] = True
            frame[col] = a
        for col in ("stake_scale", "enter_limit"):
            if col in s:
                frame[col] = np.asarray(s[col], dtype=np.float64)
        return frame
