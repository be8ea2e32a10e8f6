"""Every REST route for every role, against the real engine (paper broker)."""

from __future__ import annotations

import asyncio

import pytest

from engine.storage.models import Bot, EquitySnapshot, Proposal, RiskEvent
from tests.web.conftest import Service

GETS = ["/api/v1/me", "/api/v1/status", "/api/v1/bots", "/api/v1/trades", "/api/v1/orders",
        "/api/v1/balances", "/api/v1/proposals", "/api/v1/risk", "/api/v1/breakers",
        "/api/v1/signals", "/api/v1/news", "/api/v1/equity", "/api/v1/candles/BTC-USDT",
        "/api/v1/pairs", "/api/v1/backtests"]
TRADER_POSTS = ["/api/v1/bots/main/pause", "/api/v1/proposals/1/approve",
                "/api/v1/proposals/1/reject"]


@pytest.mark.parametrize("path", [*GETS, "/api/v1/logs"])
async def test_no_token_no_data(svc: Service, path: str) -> None:
    r = await svc.client(None).get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    bad = await svc.client(None).get(path, headers={"Authorization": "Bearer st_nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize("path", GETS)
async def test_viewer_reads_every_route(svc: Service, path: str) -> None:
    r = await svc.client("viewer").get(path)
    assert r.status_code == 200, r.text


async def test_status_shows_pending_and_positions(svc: Service) -> None:
    pid = await svc.propose()
    st = (await svc.client("viewer").get("/api/v1/status")).json()
    assert [p["id"] for p in st["pending"]] == [pid]
    assert st["pending"][0]["amount"] == str(svc.eng.get_proposal(pid).amount)  # exact money
    assert st["bots"][0]["name"] == "main" and st["bots"][0]["state"] == "running"
    assert st["trading_state"] == "active" and st["open_trades"] == []


@pytest.mark.parametrize("path", [*TRADER_POSTS, "/api/v1/breakers/resume"])
async def test_viewer_cannot_act(svc: Service, path: str) -> None:
    pid = await svc.propose()
    r = await svc.client("viewer").post(path.replace("/1/", f"/{pid}/"))
    assert r.status_code == 403
    assert "role" in r.json()["detail"]
    assert svc.eng.get_proposal(pid).state == "pending"
    assert svc.eng.bots.get("main").state == "running"


async def test_approve_fills_and_is_idempotent(svc: Service) -> None:
    pid = await svc.propose()
    trader = svc.client("trader")
    r = await trader.post(f"/api/v1/proposals/{pid}/approve")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and body["proposal"]["state"] == "executed"
    assert body["proposal"]["decided_by"] == "api:trader-user"
    assert body["order"]["state"] == "filled"
    again = (await svc.client("admin").post(f"/api/v1/proposals/{pid}/approve")).json()
    assert again["changed"] is False and again["proposal"]["decided_by"] == "api:trader-user"
    rej = await trader.post(f"/api/v1/proposals/{pid}/reject")
    assert rej.status_code == 409, rej.text  # the engine refuses to reject an executed one
    assert svc.eng.get_proposal(pid).state == "executed"
    trades = (await trader.get("/api/v1/trades?state=open")).json()
    assert len(trades) == 1 and trades[0]["symbol"] == "BTC/USDT"
    assert trades[0]["unrealized_pnl"] is not None
    orders = (await trader.get("/api/v1/orders")).json()
    assert orders[0]["proposal_id"] == pid
    bals = (await trader.get("/api/v1/balances")).json()
    assert {b["asset"] for b in bals} >= {"BTC", "USDT"}


async def test_double_tap_from_two_users_makes_one_order(svc: Service) -> None:
    pid = await svc.propose()
    a, b = svc.client("trader"), svc.client("admin")
    r1, r2 = await asyncio.gather(a.post(f"/api/v1/proposals/{pid}/approve"),
                                  b.post(f"/api/v1/proposals/{pid}/approve"))
    changed = sorted([r1.json()["changed"], r2.json()["changed"]])
    assert changed == [False, True]
    assert len((await a.get("/api/v1/orders")).json()) == 1


async def test_reject_and_unknown(svc: Service) -> None:
    pid = await svc.propose()
    t = svc.client("trader")
    r = (await t.post(f"/api/v1/proposals/{pid}/reject")).json()
    assert r["changed"] is True and r["proposal"]["state"] == "rejected"
    assert (await t.post("/api/v1/proposals/999/approve")).status_code == 404
    assert (await t.post(f"/api/v1/proposals/{pid}/maybe")).status_code == 404
    assert (await t.get("/api/v1/proposals/999")).status_code == 404
    hist = (await t.get("/api/v1/proposals?state=all")).json()
    assert hist[0]["id"] == pid


async def test_bots_actions_record_who(svc: Service) -> None:
    t = svc.client("trader")
    for action, state in (("pause", "paused"), ("stop", "stopped"), ("start", "running")):
        r = await t.post(f"/api/v1/bots/main/{action}")
        assert r.status_code == 200 and r.json()["state"] == state
    with svc.eng.sessions() as s:
        bot = s.get(Bot, svc.eng.bots.get("main").id)
        assert bot is not None and bot.state_changed_by == "api:trader-user"
    assert (await t.post("/api/v1/bots/nobot/start")).status_code == 409
    assert (await t.post("/api/v1/bots/main/explode")).status_code == 404


async def test_resume_is_admin_only(svc: Service) -> None:
    now = svc.eng.clock.now()
    with svc.eng.sessions.begin() as s:
        s.add(RiskEvent(rule="daily_loss", action="pause_entries", measured=6, threshold=5,
                        created_at=now))
    br = (await svc.client("viewer").get("/api/v1/breakers")).json()
    assert [b["rule"] for b in br] == ["daily_loss"]
    assert (await svc.client("trader").post("/api/v1/breakers/resume")).status_code == 403
    r = await svc.client("admin").post("/api/v1/breakers/resume")
    assert r.status_code == 200 and r.json()["cleared"][0]["cleared_by"] == "api:admin-user"
    assert (await svc.client("viewer").get("/api/v1/breakers")).json() == []


async def test_logs_admin_only(svc: Service) -> None:
    await svc.propose()
    assert (await svc.client("trader").get("/api/v1/logs")).status_code == 403
    r = (await svc.client("admin").get("/api/v1/logs")).json()
    assert any(a["kind"] == "proposal" for a in r["alerts"])


async def test_signals_carry_reasons_and_equity_drawdown(svc: Service) -> None:
    pid = await svc.propose()
    sig = (await svc.client("viewer").get("/api/v1/signals")).json()[0]
    assert sig["inputs"]["webhook"] == 1.0 and sig["direction"] == "long"
    with svc.eng.sessions() as s:
        p = s.get(Proposal, pid)
        assert p is not None and p.signal_id == sig["id"]
    now = svc.eng.clock.now()
    from datetime import timedelta
    from decimal import Decimal
    with svc.eng.sessions.begin() as s:
        for i, v in enumerate([100, 120, 90, 110]):
            s.add(EquitySnapshot(ts=now - timedelta(hours=4 - i), equity=Decimal(v)))
    eq = (await svc.client("viewer").get("/api/v1/equity")).json()
    assert eq["equity"] == [100.0, 120.0, 90.0, 110.0]
    assert eq["drawdown_pct"][2] == pytest.approx(-25.0)


async def test_candles_from_engine_history_with_entries(svc: Service) -> None:
    from datetime import timedelta

    from engine.data.candles import Bar

    t0 = svc.eng.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=50)
    for i in range(10):
        px = 60000.0 + i
        svc.eng.warm(Bar("BTC/USDT", "5m", t0 + timedelta(minutes=5 * i), px, px + 5, px - 5,
                         px + 1, 1.0))
    pid = await svc.propose()
    await svc.client("trader").post(f"/api/v1/proposals/{pid}/approve")
    c = (await svc.client("viewer").get("/api/v1/candles/BTC-USDT")).json()
    assert len(c["t"]) == 10 and c["timeframe"] == "5m"
    assert c["t"][0] == pytest.approx((t0 - timedelta(minutes=5)).timestamp())  # open time
    assert [m["kind"] for m in c["marks"]] == ["entry"]
    assert (await svc.client("viewer").get("/api/v1/candles/not-a-pair!")).status_code == 422


async def test_news_with_scores(svc: Service) -> None:
    from engine.storage.models import NewsItem, SentimentScore

    with svc.eng.sessions.begin() as s:
        n = NewsItem(dedup_key="k1", title_hash="h1", source="rss", title="BTC ETF approved",
                     symbols=["BTC"])
        s.add(n)
        s.flush()
        assert n.id is not None
        s.add(SentimentScore(news_item_id=n.id, scorer="lexicon", label="positive", score=0.8,
                             confidence=0.9))
    r = (await svc.client("viewer").get("/api/v1/news?symbol=BTC")).json()
    assert r[0]["title"] == "BTC ETF approved" and r[0]["scores"][0]["score"] == 0.8
    assert (await svc.client("viewer").get("/api/v1/news?symbol=ETH")).json() == []


async def test_backtest_start_poll_report(svc: Service) -> None:
    t = svc.client("trader")
    bad = await t.post("/api/v1/backtests", json={"pair": "DOGE/USDT", "days": 2})
    assert bad.status_code == 422 and "unknown pair" in bad.json()["detail"]
    bad = await t.post("/api/v1/backtests", json={"pair": "BTC/USDT", "days": 2,
                                                   "strategy": "no_such_strategy"})
    assert bad.status_code == 422
    assert (await svc.client("viewer").post("/api/v1/backtests",
                                            json={"pair": "BTC/USDT"})).status_code == 403
    r = await t.post("/api/v1/backtests", json={"pair": "BTC/USDT", "timeframe": "5m",
                                                 "days": 3, "strategy": "ema_rsi_cross"})
    assert r.status_code == 202, r.text
    jid = r.json()["id"]
    for _ in range(600):
        job = (await t.get(f"/api/v1/backtests/{jid}")).json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.1)
    assert job["state"] == "done", job
    rep = (await t.get(f"/api/v1/backtests/{jid}/report")).json()
    assert rep["summary"] and rep["text"]
    png = await t.get(f"/api/v1/backtests/{jid}/report.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert (await t.get("/api/v1/backtests/99")).status_code == 404
