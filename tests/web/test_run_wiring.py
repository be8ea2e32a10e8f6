"""`sentitrade run` with `[api] enabled = true`: the API runs beside the engine and sees
its candles and alerts (replay mode on the embedded sample, no network)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from bot.cli import _chat_attachment
from engine.service.scheduler import serve
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from web.auth import create_token
from web.bench import _free_port


async def test_run_serves_the_api_beside_the_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    upgrade(url)
    token = create_token(SessionFactory(make_engine(url)), "ops", "viewer")
    port = _free_port()
    settings = Settings(database={"url": url},  # type: ignore[arg-type]
                        exchange={"mode": "replay", "replay_speed": 200},  # type: ignore[arg-type]
                        security={"key_file": tmp_path / "master.key"},  # type: ignore[arg-type]
                        api={"enabled": True, "port": port},  # type: ignore[arg-type]
                        bots=[{"name": "main", "symbols": ["BTC/USDT"]}])  # type: ignore[list-item]
    task = asyncio.create_task(serve(settings, attach=_chat_attachment(settings, False)))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            st = None
            for _ in range(400):
                assert not task.done(), task.exception()
                with contextlib.suppress(httpx.TransportError):
                    st = await c.get("/api/v1/status")
                    if st.status_code == 200:
                        break
                await asyncio.sleep(0.05)
            assert st is not None and st.status_code == 200
            assert st.json()["mode"] == "replay" and st.json()["read_only"] is False
            bars = 0.0
            for _ in range(200):  # the engine's candles reach the metrics through the hooks
                m = (await c.get("/metrics")).text
                line = [x for x in m.splitlines()
                        if x.startswith('trading_bot_execution_time_seconds_count{operation="on_bar"}')]
                bars = float(line[0].split()[-1]) if line else 0.0
                if bars > 0:
                    break
                await asyncio.sleep(0.05)
            assert bars > 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.done()
