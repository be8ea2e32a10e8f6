"""/metrics is scraped and its numbers follow the engine."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from engine.data.candles import Bar
from engine.storage.models import RiskEvent
from tests.web.conftest import Service
from web.instrument import instrument


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_scrape_follows_the_engine(svc: Service) -> None:
    assert instrument(svc.eng, svc.ctx.hub, svc.ctx.metrics)
    assert not instrument(svc.eng, svc.ctx.hub, svc.ctx.metrics)  # once only
    c = svc.client(None)  # open like /docs: bind the API privately (docs/api.md)
    pid = await svc.propose()
    await svc.client("trader").post(f"/api/v1/proposals/{pid}/approve")
    ts = svc.eng.clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    await svc.eng.on_bar(Bar("BTC/USDT", "5m", ts, 60000, 60100, 59900, 60050, 1.0))
    await svc.eng.tick()
    svc.eng.refresh_sentiment()
    await svc.eng.drain_alerts()
    with svc.eng.sessions.begin() as s:
        s.add(RiskEvent(rule="drawdown_pause", action="pause_entries", measured=11,
                        threshold=10, created_at=svc.eng.clock.now()))
    r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = _samples(r.text)
    assert m[("trading_bot_signals_generated_total", (("direction", "long"),))] == 1
    assert m[("trading_bot_orders", (("state", "filled"),))] == 1
    assert m[("trading_bot_fills_total", ())] == 1
    assert m[("trading_bot_memory_usage_bytes", ())] > 10e6
    assert m[("trading_bot_execution_time_seconds_count", (("operation", "approve"),))] == 1
    assert m[("trading_bot_execution_time_seconds_count", (("operation", "on_bar"),))] == 1
    assert m[("trading_bot_tick_duration_seconds_count", ())] == 1
    assert m[("trading_bot_breaker_active", (("action", "pause_entries"),
                                             ("rule", "drawdown_pause")))] == 1
    assert m[("trading_bot_trading_state", (("state", "reducing"),))] == 1
    assert ("trading_bot_feed_lag_seconds", (("symbol", "BTC/USDT"),)) in m
    assert m[("trading_bot_news_polls_total", (("result", "empty"),))] == 1
    alerts = {k[1][0][1]: v for k, v in m.items() if k[0] == "trading_bot_alerts"}
    assert set(alerts) == {"pending", "delivered", "failed"}
    assert alerts["delivered"] >= 3  # proposal, decision, fill to the console notifier
    assert ("trading_bot_websocket_latency_seconds_count", ()) in m
    assert m[("trading_bot_api_requests_total", (("route", "/api/v1/proposals/{pid}/{decision}"),
                                                 ("status", "200")))] == 1


async def test_grafana_dashboard_uses_only_exported_metrics(svc: Service) -> None:
    import json
    import re
    from pathlib import Path

    assert instrument(svc.eng, svc.ctx.hub, svc.ctx.metrics)
    pid = await svc.propose()
    await svc.client("trader").post(f"/api/v1/proposals/{pid}/approve")
    svc.eng.refresh_sentiment()
    svc.ctx.metrics.last_bar["BTC/USDT"] = 0.0
    text = (await svc.client(None).get("/metrics")).text
    exported = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    exported |= {fam.name for fam in text_string_to_metric_families(text)}
    dash = json.loads((Path(__file__).parents[2] / "deploy/grafana/sentitrade.json").read_text())
    used = {m for p in dash["panels"] for t in p["targets"]
            for m in re.findall(r"trading_bot_[a-z_]+", t["expr"])}
    assert used and used <= exported, used - exported
