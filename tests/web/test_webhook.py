"""POST /webhook/{bot}: HMAC-signed alerts become risk-checked proposals."""

from __future__ import annotations

import json

from sqlmodel import select

from engine.storage.models import Proposal, Signal
from engine.storage.secrets_sync import vault_for
from tests.web.conftest import Service, signed
from web.webhook import secret_name

SECRET = "s3cr3t-webhook-key"


def _store_secret(svc: Service) -> None:
    with svc.eng.sessions.begin() as s:
        vault_for(svc.ctx.settings).put(s, secret_name("main"), SECRET)


async def test_signed_alert_becomes_pending_proposal(svc: Service) -> None:
    _store_secret(svc)
    body = json.dumps({"pair": "BTC/USDT", "side": "buy", "price": 60010.5}).encode()
    r = await svc.client(None).post("/webhook/main", content=body, headers=signed(SECRET, body))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["proposal"]["state"] == "pending"  # manual approvals: waits for a person
    assert out["proposal"]["reasons"][0] == "webhook"
    assert out["proposal"]["ref_price"] == "60010.5"
    with svc.eng.sessions() as s:
        sig = s.exec(select(Signal)).one()
        assert sig.inputs == {"webhook": 1.0}
    replay = await svc.client(None).post("/webhook/main", content=body,
                                         headers=signed(SECRET, body))
    assert replay.status_code == 409 and "replay" in replay.json()["detail"]


async def test_bad_signatures_refused_and_counted(svc: Service) -> None:
    _store_secret(svc)
    body = json.dumps({"pair": "BTC/USDT", "side": "buy"}).encode()
    c = svc.client(None)
    assert (await c.post("/webhook/main", content=body)).status_code == 401
    assert (await c.post("/webhook/main", content=body,
                         headers=signed("wrong", body))).status_code == 401
    assert (await c.post("/webhook/other", content=body,
                         headers=signed(SECRET, body))).status_code == 401  # no secret
    tampered = body.replace(b"buy", b"sell")
    assert (await c.post("/webhook/main", content=tampered,
                         headers=signed(SECRET, body))).status_code == 401
    with svc.eng.sessions() as s:
        assert s.exec(select(Proposal)).all() == []


async def test_alerts_checked_like_any_signal(svc: Service) -> None:
    _store_secret(svc)
    c = svc.client(None)

    async def send(payload: dict[str, object]) -> tuple[int, dict[str, object]]:
        body = json.dumps(payload).encode()
        r = await c.post("/webhook/main", content=body, headers=signed(SECRET, body))
        return r.status_code, r.json()

    code, out = await send({"pair": "DOGE/USDT", "side": "buy"})
    assert code == 422 and "not DOGE/USDT" in str(out["detail"])
    code, out = await send({"pair": "BTC/USDT", "side": "moon"})
    assert code == 422
    code, out = await send({"pair": "BTC/USDT", "side": "sell", "price": 1})
    assert code == 409 and "holds no" in str(out["detail"])
    code, out = await send({"pair": "ETH/USDT", "side": "buy"})  # no ETH price known yet
    assert code == 409 and "no price" in str(out["detail"])
    await svc.eng.pause_bot("main", "test")
    code, out = await send({"pair": "BTC/USDT", "side": "buy", "price": 60000})
    assert code == 409 and "paused" in str(out["detail"])
    await svc.eng.start_bot("main", "test")
    # a risk limit blocks it: the signal is stored with the reason, no proposal is made
    svc.eng.settings.risk.__dict__["blacklist"] = ["BTC/USDT"]
    try:
        code, out = await send({"pair": "BTC/USDT", "side": "buy", "price": 60001})
    finally:
        svc.eng.settings.risk.__dict__["blacklist"] = []
    assert code == 201 and out["proposal"] is None and out["blocked"]
