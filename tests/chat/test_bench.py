"""`sentitrade bench chat` keeps working (tiny run) and explains a missing fake."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import typer

import bot.bench as bench


async def test_bench_runs_against_real_engine() -> None:
    res = await bench._bench(n_status=3, n_press=2, warmup=1, pause=0.0)
    assert res["status_roundtrip_ms"]["n"] == 3 and res["approve_to_edit_ms"]["n"] == 2
    assert res["status_roundtrip_ms"]["open_positions"] == 20
    assert res["status_command_ms"]["p50"] > 0 and res["reference_http_ms"]["p50"] > 0


def test_missing_fake_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    def no_tests(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", no_tests)
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "bot" / "bench.py"))
    with pytest.raises(typer.BadParameter, match="source checkout"):
        bench._fake_module()
