"""Buttons signed with an issue time in the future are refused beyond a small skew."""

from __future__ import annotations

import pytest

from commands.callbacks import MAX_CLOCK_SKEW_S, CallbackError, CallbackSigner

KEY = b"k" * 32


def test_future_issue_time_refused() -> None:
    now = [1_700_000_000.0]
    signer = CallbackSigner(KEY, ttl_seconds=3600, clock=lambda: now[0])
    now[0] += 86_400 * 365  # a key holder signs "next year"
    data = signer.sign("approve", 7)
    now[0] -= 86_400 * 365
    with pytest.raises(CallbackError, match="future"):
        signer.verify(data)
    now[0] += 86_400 * 365 - MAX_CLOCK_SKEW_S + 1  # within the skew: accepted
    assert signer.verify(data).target_id == 7
