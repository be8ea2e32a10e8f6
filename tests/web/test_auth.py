"""Tokens: hashed at rest, roles, revocation, failed-auth rate limit, CORS, the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from engine.storage.models import ApiToken
from tests.web.conftest import Service, build_service, web_settings
from web.app import create_app
from web.auth import create_token, revoke_tokens


async def test_tokens_are_stored_hashed(svc: Service) -> None:
    with svc.eng.sessions() as s:
        rows = s.exec(select(ApiToken)).all()
    stored = " ".join(f"{r.token_hash} {r.prefix}" for r in rows)
    for token in svc.tokens.values():
        assert token not in stored
        assert token[:10] in stored  # the prefix only, to tell tokens apart
    me = (await svc.client("trader").get("/api/v1/me")).json()
    assert me == {"name": "trader-user", "role": "trader"}


async def test_revoked_token_is_refused(svc: Service) -> None:
    svc.ctx.tokens.ttl_s = 0.0
    c = svc.client("viewer")
    assert (await c.get("/api/v1/status")).status_code == 200
    assert revoke_tokens(svc.eng.sessions, "viewer-user") == 1
    assert (await c.get("/api/v1/status")).status_code == 401


async def test_failed_auth_is_rate_limited(svc: Service) -> None:
    c = svc.client(None)
    limit = svc.ctx.settings.api.auth_failures_per_minute
    for _ in range(limit):
        r = await c.get("/api/v1/status", headers={"Authorization": "Bearer st_guess"})
        assert r.status_code == 401
    r = await c.get("/api/v1/status", headers={"Authorization": f"Bearer {svc.tokens['admin']}"})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"  # even a good token waits


async def test_unknown_role_and_bad_name_refused(svc: Service) -> None:
    from engine.errors import SentitradeError

    with pytest.raises(SentitradeError, match="unknown role"):
        create_token(svc.eng.sessions, "x", "god")
    with pytest.raises(SentitradeError, match="token names"):
        create_token(svc.eng.sessions, "bad name", "viewer")


async def test_cors_closed_by_default_open_when_configured(tmp_path: Path) -> None:
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    closed, clients = await build_service(tmp_path / "a")
    r = await closed.client(None).options("/api/v1/status", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = await closed.client("viewer").get("/api/v1/status", headers={"Origin": "https://x.y"})
    assert "access-control-allow-origin" not in r.headers
    opened, clients2 = await build_service(tmp_path / "b", cors_origins=["https://desk.example"])
    ok = await opened.client(None).options(
        "/api/v1/status", headers={**pre, "Origin": "https://desk.example"})
    assert ok.headers["access-control-allow-origin"] == "https://desk.example"
    for s, cs in ((closed, clients), (opened, clients2)):
        for c in cs:
            await c.aclose()
        await s.eng.close()


async def test_docs_and_openapi_list_routes(svc: Service) -> None:
    c = svc.client(None)
    spec = (await c.get("/openapi.json")).json()
    for path in ("/api/v1/status", "/api/v1/proposals/{pid}/{decision}",
                 "/api/v1/backtests/{job_id}/report", "/webhook/{bot}"):
        assert path in spec["paths"]
    assert (await c.get("/docs")).status_code == 200
    page = await c.get("/")
    assert page.status_code == 200 and "lightweight-charts" in page.text
    js = await c.get("/static/vendor/lightweight-charts.standalone.production.js")
    assert js.status_code == 200 and "TradingView" in js.text[:300]


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The CLI installs its log handlers on CliRunner's stream: take them off after."""
    root = logging.getLogger()
    level = root.level
    yield
    for h in list(root.handlers):
        if getattr(h, "_sentitrade", False):
            root.removeHandler(h)
    root.setLevel(level)


def test_cli_user_token_prints_once_and_works(tmp_path: Path, cli_logging: None) -> None:
    import asyncio

    from bot.cli import app
    from engine.service.engine import Engine
    from engine.storage.db import SessionFactory, make_engine
    from web.app import build_context

    settings = web_settings(tmp_path)
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\nurl = "{settings.database.url}"\n'
                   f'[security]\nkey_file = "{tmp_path / "master.key"}"\n')
    r = CliRunner().invoke(app, ["user", "token", "carol", "--role", "trader", "-c", str(cfg)])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("st_")
    bad = CliRunner().invoke(app, ["user", "token", "dave", "--role", "god", "-c", str(cfg)])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    listed = CliRunner().invoke(app, ["user", "list", "-c", str(cfg)])
    assert "carol\ttrader" in listed.stdout and token not in listed.stdout

    async def check() -> int:
        eng = Engine(settings, SessionFactory(make_engine(settings.database.url)))
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(
            build_context(eng, settings))), base_url="http://t")
        try:
            return (await c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                    ).status_code
        finally:
            await c.aclose()
            await eng.close()

    assert asyncio.run(check()) == 200
    r = CliRunner().invoke(app, ["user", "revoke", "carol", "-c", str(cfg)])
    assert "1 token(s) of carol revoked" in r.stdout


def test_run_attaches_the_api_only_when_enabled(tmp_path: Path) -> None:
    from web.server import Together, with_api

    class Chat:
        async def start(self) -> None: ...
        async def stop(self) -> None: ...

    chat = Chat()
    off = web_settings(tmp_path)
    assert with_api(chat, object(), off) is chat  # type: ignore[arg-type]
    assert off.api.enabled is False and off.api.host == "127.0.0.1"
    from engine.storage.config import Settings

    assert Settings().api.port == 8080 and Settings().api.cors_origins == []
    on = off.model_copy(update={"api": off.api.model_copy(update={"enabled": True})})
    from engine.service.engine import Engine
    from engine.storage.db import SessionFactory, make_engine

    eng = Engine(on, SessionFactory(make_engine(on.database.url)))
    both = with_api(chat, eng, on)
    assert isinstance(both, Together) and both.parts[0] is chat
