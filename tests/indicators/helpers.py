"""Comparison helpers: same NaN warm-up as the reference, then 1e-9 relative."""

from __future__ import annotations

import numpy as np

RTOL = 1e-9


def assert_same(ours: np.ndarray, ref: np.ndarray, rtol: float = RTOL, scale: float = 0.0) -> None:
    """NaN positions must be identical; values agree to ``rtol`` relative.

    ``scale`` adds an absolute floor ``rtol * scale`` for series that cross zero (MACD,
    momentum), where a relative test at the crossing would be meaningless.
    """
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape
    nan_o, nan_r = np.isnan(ours), np.isnan(ref)
    if not np.array_equal(nan_o, nan_r):
        bad = np.flatnonzero(nan_o != nan_r)
        raise AssertionError(
            f"NaN mismatch at {bad[:10]} (ours nan: {nan_o[bad[:10]]}); "
            f"first valid ours={np.argmax(~nan_o)} ref={np.argmax(~nan_r)}"
        )
    np.testing.assert_allclose(ours[~nan_o], ref[~nan_r], rtol=rtol, atol=rtol * scale)
