"""The whole loop through the Engine: event rules and the demo on a short replay."""

from __future__ import annotations

import gzip
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import select

from engine.data.candles import DEMO_DATA_DIR, Bar
from engine.execution.paper import Quote
from engine.service.demo import run_demo_async
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.models import NewsItem, Proposal, SentimentScore, Signal


async def _hold_btc(eng: Engine) -> None:
    eng.quotes["BTC/USDT"] = Quote(Decimal(60000))
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        p = Proposal(bot_id=eng.bots.get("b1").id, symbol="BTC/USDT", side="buy",
                     intent="enter", amount=Decimal("0.01"), ref_price=Decimal(60000),
                     created_at=now, expires_at=now + timedelta(minutes=5))
        s.add(p)
        s.flush()
        pid = p.id
    assert pid is not None
    await eng.approve(pid, "test")


def _hack_news(eng: Engine, minutes_before: int) -> None:
    with eng.sessions.begin() as s:
        n = NewsItem(dedup_key="h1", title_hash="h1", source="t",
                     title="Major exchange exploited, BTC hot wallet drained",
                     published_at=eng.clock.now() - timedelta(minutes=minutes_before),
                     symbols=["BTC"])
        s.add(n)
        s.flush()
        s.add(SentimentScore(news_item_id=n.id or 0, scorer="lexicon", label="negative",
                             score=-0.7, confidence=0.7, event_type="hack",
                             symbols=["BTC/USDT"]))
    eng.refresh_sentiment()


async def test_hack_headline_on_held_symbol_proposes_exit(engine_factory, clock) -> None:
    eng: Engine = await engine_factory()
    await _hold_btc(eng)
    _hack_news(eng, minutes_before=3)
    bar = Bar("BTC/USDT", "5m", clock.now(), 60000, 60010, 59990, 60000, 1)
    [sig] = await eng.on_bar(bar)  # indicators are not even warm: the rule wins anyway
    assert sig.direction == "exit"
    [p] = eng.pending_proposals()
    assert (p.side, p.intent, p.trade_id) == ("sell", "exit", eng.open_trades()[0].id)
    assert p.reasons[0] == "event_hack"  # sentiment_fusion's rule, named as its exit tag
    assert "headline: Major exchange exploited, BTC hot wallet drained" in p.reasons


async def test_event_rule_can_be_switched_off(engine_factory, clock) -> None:
    eng: Engine = await engine_factory(bots=[{"name": "b1", "symbols": ["BTC/USDT"],
                                              "params": {"event_exit": False}}])
    await _hold_btc(eng)
    _hack_news(eng, minutes_before=3)
    assert await eng.on_bar(Bar("BTC/USDT", "5m", clock.now(), 6e4, 6e4, 6e4, 6e4, 1)) == []
    with eng.sessions() as s:
        assert s.exec(select(Signal)).all() == []


def _short_sample(tmp: Path, rows: int) -> Path:
    for sym in ("BTC_USDT", "ETH_USDT"):
        with gzip.open(DEMO_DATA_DIR / f"{sym}-5m.csv.gz", "rt") as fh:
            lines = fh.read().splitlines()[: rows + 1]
        with gzip.open(tmp / f"{sym}-5m.csv.gz", "wt") as out:
            out.write("\n".join(lines) + "\n")
    return tmp


async def test_demo_whole_loop_on_a_short_replay(tmp_path: Path) -> None:
    data = _short_sample(tmp_path, 3000)
    settings = Settings(exchange={"replay_data": data},  # type: ignore[arg-type]
                        database={"url": f"sqlite:///{tmp_path / 'demo.db'}"})  # type: ignore[arg-type]
    s = await run_demo_async(settings)
    assert s.candles == 6000
    assert s.proposals.get("executed", 0) > 0  # small ones went through automatically
    assert s.proposals.get("expired", 0) > 0  # big ones waited for a tap that never came
    assert s.fills == s.orders.get("filled", 0) + s.orders.get("canceled", 0)
    assert sum(s.alerts.values()) == s.alerts_delivered
    assert 0 < sum(s.proposals.values()) <= sum(s.signals.values())
    assert s.trades_closed > 0
    equity_change = Decimal(s.final_equity) - Decimal(s.starting_equity)
    if s.trades_open == 0:
        assert equity_change == Decimal(s.realized_pnl)


async def test_run_service_in_replay_mode(tmp_path: Path) -> None:
    from engine.outbox import JsonlNotifier
    from engine.service.scheduler import serve

    data = _short_sample(tmp_path, 1500)
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    settings = Settings(exchange={"mode": "replay", "replay_data": data},  # type: ignore[arg-type]
                        database={"url": url},  # type: ignore[arg-type]
                        approvals={"mode": "auto"},  # type: ignore[arg-type]
                        security={"key_file": tmp_path / "master.key"})  # type: ignore[arg-type]
    alerts = tmp_path / "alerts.jsonl"
    await serve(settings, [JsonlNotifier(alerts)])
    from engine.storage.db import make_engine

    eng = make_engine(url)
    from sqlmodel import Session, func

    from engine.storage.models import Fill, OutboxMessage

    with Session(eng) as s:
        n_fills = s.exec(select(func.count()).select_from(Fill)).one()
        n_alerts = s.exec(select(func.count()).select_from(OutboxMessage)).one()
    eng.dispose()
    assert n_fills > 0
    assert len(alerts.read_text().splitlines()) == n_alerts
    await serve(settings, [JsonlNotifier(alerts)])  # a restart after the end: nothing new
    assert len(alerts.read_text().splitlines()) == n_alerts


async def test_backtest_through_the_engine(engine_factory) -> None:
    eng = await engine_factory()
    out = await eng.backtest("BTC/USDT", "5m", 7, "ema_rsi_cross")
    assert out.summary["metrics"]["backtest_days"] <= 7.01
    assert out.trades_csv is not None and out.trades_csv.count(b"\n") >= 1
    assert out.report_png is None or out.report_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{out.summary['metrics']['total_trades']} trades" in out.text
