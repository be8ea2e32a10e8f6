"""`sentitrade bench engine` runs end to end (its figures are printed, never asserted:
speed is shown by the benchmark, not by a timed test)."""

from __future__ import annotations

from engine.service.bench import bench_tick


def test_engine_bench_runs_the_live_path_and_reports_a_ratio() -> None:
    out = bench_tick(ticks=3, window=40)
    assert out["pairs"] == 300.0 and out["window"] == 40.0
    for key in ("tick_cpu_ms_median", "tick_5m_only_cpu_ms_median",
                "reference_batch_ema_300xwindow_ms", "ratio_to_reference"):
        assert out[key] >= 0.0, key
