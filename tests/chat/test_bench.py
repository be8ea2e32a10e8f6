"""`sentitrade bench chat` keeps working (tiny run) and explains a missing fake."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import typer

import bot.bench as bench


async def test_bench_runs_against_real_engine() -> None:
    """A tiny run under Telegram's real limits: every scenario reports, nothing was
    refused with a 429, the burst arrived complete and in order."""
    res = await bench._bench(n_status=3, n_press=2, warmup=1, pause=0.0, n_queued=3,
                             queued=30, n_burst=120)
    assert res["status_roundtrip_ms"]["n"] == 3 and res["approve_to_edit_ms"]["n"] == 2
    assert res["status_roundtrip_ms"]["open_positions"] == 20
    assert res["status_command_ms"]["p50"] > 0 and res["reference_http_ms"]["p50"] > 0
    q = res["status_with_alerts_queued_ms"]
    assert q["n"] == 3 and q["pending_after"] > 0  # the alerts were still queued
    b = res["burst"]
    assert b["undelivered"] == 0 and b["in_order"] and b["all_accounted"]
    assert b["messages"] <= 3  # digests, not 120 messages
    assert res["flood_429s"] == 0 and res["flood_violations"] == 0


def test_missing_fake_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    def no_tests(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", no_tests)
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "bot" / "bench.py"))
    with pytest.raises(typer.BadParameter, match="source checkout"):
        bench._fake_module()
