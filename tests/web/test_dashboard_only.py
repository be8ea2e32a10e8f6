"""`sentitrade api` alone: the dashboard and read API over the database, never trading."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from web.bench import _free_port, _seed


def test_sentitrade_api_serves_reads_and_refuses_actions(tmp_path: Path) -> None:
    cfg, token = _seed(tmp_path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "api", "-c", str(cfg),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        h = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=h) as c:
            st = c.get("/api/v1/status").json()
            assert st["read_only"] is True and len(st["pending"]) == 20
            assert len(st["open_trades"]) == 20
            assert c.get("/api/v1/status", headers={"Authorization": "Bearer x"}
                         ).status_code == 401
            assert c.get("/").status_code == 200
            assert "trading_bot_memory_usage_bytes" in c.get("/metrics").text
        from engine.storage.config import load_settings
        from engine.storage.db import SessionFactory, make_engine
        from web.auth import create_token

        settings = load_settings(cfg)
        admin = create_token(SessionFactory(make_engine(settings.database.url)), "a", "admin")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"Authorization": f"Bearer {admin}"}) as c:
            r = c.post(f"/api/v1/proposals/{st['pending'][0]['id']}/approve")
            assert r.status_code == 409 and "only shows the dashboard" in r.json()["detail"]
            assert c.post("/api/v1/bots/main/stop").status_code == 409
    finally:
        proc.terminate()
        proc.wait(10)
