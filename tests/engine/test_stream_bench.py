"""`sentitrade bench feed` runs end to end on a small load and reports every figure
(the speed itself is the benchmark's business, not a test's)."""

from __future__ import annotations

from engine.data import bench_feed


def test_the_feed_benchmark_runs_and_reports() -> None:
    res = bench_feed.run(n=5_000, repeats=1, ref_n=2_000, soak_minutes=2, soak_rate=200)
    assert res["tape_msgs_per_s"] > 0 and res["ccxt_pro_msgs_per_s"] > 0
    assert res["ratio_to_ccxt_pro"] > 0
    assert res["latency"]["p99_us"] >= res["latency"]["p50_us"] > 0
    assert len(res["soak"]["rss_mb_each_minute"]) == 2
    assert res["soak"]["trades"] == 2 * 60 * 200
    assert res["soak"]["raw_kept"] <= 61 * 200
