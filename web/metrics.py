"""Prometheus metrics at `/metrics`.

Timings (candle handling, ticks, approvals, WebSocket delivery) are observed as they
happen by `web.instrument` and `web.ws`; everything that is a count of stored state
(orders and fills by state, alert deliveries, breakers, signals) is read at scrape time
with one grouped query each, so the engine does no extra work between scrapes.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import select

from engine.service.api import TradingAPI
from engine.storage.models import Fill, Order, OutboxDelivery, Signal

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; the peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Metrics:
    """The service's metrics on their own registry (one per app: tests build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.execution = Histogram("trading_bot_execution_time_seconds",
                                   "Time the engine spent on one operation",
                                   ["operation"], registry=r, buckets=_FAST)
        self.tick = Histogram("trading_bot_tick_duration_seconds",
                              "Duration of the engine's tick (orders, expiry, breakers, alerts)",
                              registry=r, buckets=_FAST)
        self.ws_latency = Histogram("trading_bot_websocket_latency_seconds",
                                    "From the engine's commit to the WebSocket send",
                                    registry=r, buckets=_FAST)
        self.ws_clients = Gauge("trading_bot_websocket_clients", "Connected WebSocket clients",
                                registry=r)
        self.ws_dropped = Counter("trading_bot_websocket_dropped_total",
                                  "WebSocket clients dropped for falling behind", registry=r)
        self.news_polls = Counter("trading_bot_news_polls_total",
                                  "News reloads after a poll, by result", ["result"], registry=r)
        self.news_headlines = Counter("trading_bot_news_headlines_total",
                                      "New headlines seen by the engine", registry=r)
        self.api_requests = Counter("trading_bot_api_requests_total",
                                    "API requests by route and status", ["route", "status"],
                                    registry=r)
        self.auth_failures = Counter("trading_bot_api_auth_failures_total",
                                     "Refused API tokens", registry=r)
        self.last_bar: dict[str, float] = {}  # symbol -> close time (epoch s) of its last bar

    def attach_engine(self, api: TradingAPI) -> None:
        self.registry.register(EngineCollector(api, self))


class EngineCollector(Collector):
    """Scrape-time reads of the engine's state."""

    def __init__(self, api: TradingAPI, metrics: Metrics) -> None:
        self.api = api
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        mem = GaugeMetricFamily("trading_bot_memory_usage_bytes", "Resident memory (RSS)")
        mem.add_metric([], float(rss_bytes()))
        yield mem
        with self.api.sessions() as s:
            orders = s.exec(select(Order.state, func.count()).group_by(Order.state)).all()
            fills = s.exec(select(func.count()).select_from(Fill)).one()
            alerts = s.exec(select(OutboxDelivery.state, func.count())
                            .group_by(OutboxDelivery.state)).all()
            signals = s.exec(select(Signal.direction, func.count())
                             .group_by(Signal.direction)).all()
        o = GaugeMetricFamily("trading_bot_orders", "Orders by state", labels=["state"])
        for state, n in orders:
            o.add_metric([str(state)], float(n))
        yield o
        f = CounterMetricFamily("trading_bot_fills", "Fills booked")
        f.add_metric([], float(fills))
        yield f
        a = GaugeMetricFamily("trading_bot_alerts", "Alert deliveries by state "
                              "(pending = queued)", labels=["state"])
        seen: dict[str, float] = {"pending": 0.0, "delivered": 0.0, "failed": 0.0}
        for state, n in alerts:
            seen[str(state)] = float(n)
        for state_name, count in seen.items():
            a.add_metric([state_name], count)
        yield a
        sg = CounterMetricFamily("trading_bot_signals_generated",
                                 "Signals generated (stored), by direction", labels=["direction"])
        for direction, n in signals:
            sg.add_metric([str(direction)], float(n))
        yield sg
        yield from self._risk()
        lag = GaugeMetricFamily("trading_bot_feed_lag_seconds",
                                "Now (engine clock) minus the close time of the last candle "
                                "seen", labels=["symbol"])
        clock: Any = getattr(self.api, "clock", None)
        now = clock.now().timestamp() if clock is not None else time.time()
        for sym, ts in sorted(self.metrics.last_bar.items()):
            lag.add_metric([sym], max(0.0, now - ts))
        yield lag
        stats: Any = getattr(self.api, "stats", None)
        if stats is not None:
            st = CounterMetricFamily("trading_bot_engine_events",
                                     "Engine counters since start", labels=["what"])
            for what in ("bars", "signals", "proposals", "blocked", "trips"):
                st.add_metric([what], float(getattr(stats, what, 0)))
            yield st

    def _risk(self) -> Iterator[Metric]:
        rs = self.api.risk_status()
        b = GaugeMetricFamily("trading_bot_breaker_active",
                              "1 while a circuit breaker rule is tripped",
                              labels=["rule", "action"])
        for br in rs.breakers:
            b.add_metric([br.rule, br.action], 1.0)
        yield b
        ts = GaugeMetricFamily("trading_bot_trading_state",
                               "1 for the current trading state", labels=["state"])
        for state in ("active", "reducing", "halted"):
            ts.add_metric([state], 1.0 if rs.trading_state == state else 0.0)
        yield ts
        eq = rs.usage.get("equity")
        if eq is not None:
            g = GaugeMetricFamily("trading_bot_equity", "Account equity in the quote currency")
            g.add_metric([], float(eq))
            yield g
