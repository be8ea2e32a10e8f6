"""`sentitrade bench api`: latency of `GET /api/v1/status` under 50 concurrent clients.

A real `sentitrade api` process (uvicorn, its own interpreter) serves a seeded SQLite
database (one bot, 20 pending proposals, 20 open trades, 1,000 closed trades); this
process runs 50 clients, each with its own keep-alive connection, sending requests back
to back. Reference timed in the same run, the same way: `GET /api/v1/me` (the token
check and the framework alone), so the ratio is the cost of the status work itself.
Three rounds of 2,000 requests per route; the medians of the rounds' percentiles, and
the server's CPU per request (from /proc: what latency becomes on an idle machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

CLIENTS, PER_CLIENT, ROUNDS = 50, 40, 3


def _seed(folder: Path) -> tuple[Path, str]:
    from engine.storage.config import Settings
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.dbtypes import utcnow
    from engine.storage.migrate import upgrade
    from engine.storage.models import Bot, Proposal, Trade
    from web.auth import create_token

    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    sessions = SessionFactory(make_engine(url))
    now = utcnow()
    with sessions.begin() as s:
        bot = Bot(name="main", strategy="sentiment_fusion", symbols=["BTC/USDT"],
                  timeframe="5m", state="running")
        s.add(bot)
        s.flush()
        for i in range(1020):
            t = Trade(bot_id=bot.id, symbol="BTC/USDT", is_open=i < 20,
                      amount=Decimal("0.01"), stake=Decimal(600), open_price=Decimal(60000),
                      open_at=now - timedelta(minutes=i))
            if i >= 20:
                t.close_price, t.close_at = Decimal(60100), now
            s.add(t)
        for _ in range(20):
            s.add(Proposal(bot_id=bot.id, symbol="BTC/USDT", side="buy", amount=Decimal(1),
                           ref_price=Decimal(60000), notional=Decimal(60000),
                           reasons=["bench"], created_at=now,
                           expires_at=now + timedelta(hours=1)))
    token = create_token(sessions, "bench", "viewer")
    sessions.engine.dispose()
    cfg = folder / "bench.toml"
    Settings(database={"url": url})  # validates the URL
    cfg.write_text(f'[database]\nurl = "{url}"\n[security]\nkey_file = "{folder / "k"}"\n'
                   '[[bots]]\nname = "main"\nsymbols = ["BTC/USDT"]\n')
    return cfg, token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _round(port: int, path: str, token: str) -> list[float]:
    import httpx

    lat: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {token}"}, timeout=30) as c:
            for _ in range(PER_CLIENT):
                t0 = time.perf_counter()
                r = await c.get(path)
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status_code}")

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return lat


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        cfg, token = _seed(Path(d))
        port = _free_port()
        env = {**os.environ, "SENTITRADE_LOGGING__LEVEL": "WARNING"}
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "api", "-c", str(cfg),
                                 "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError((proc.stderr.read() if proc.stderr else b"")
                                           .decode()[-500:]) from None
                    time.sleep(0.1)
            out: dict[str, Any] = {"clients": CLIENTS, "requests_per_round": CLIENTS * PER_CLIENT,
                                   "rounds": ROUNDS}
            asyncio.run(_round(port, "/api/v1/status", token))  # warm-up
            for name, path in (("status", "/api/v1/status"), ("reference_me", "/api/v1/me")):
                p50, p99, rps, cpu = [], [], [], []
                for _ in range(ROUNDS):
                    t0, c0 = time.perf_counter(), _cpu_s(proc.pid)
                    lat = asyncio.run(_round(port, path, token))
                    rps.append(len(lat) / (time.perf_counter() - t0))
                    cpu.append((_cpu_s(proc.pid) - c0) / len(lat) * 1000)
                    p50.append(_pct(lat, 0.50))
                    p99.append(_pct(lat, 0.99))
                out[name] = {"p50_ms": statistics.median(p50), "p99_ms": statistics.median(p99),
                             "req_per_s": statistics.median(rps),
                             "server_cpu_ms_per_request": statistics.median(cpu)}
            out["p99_ratio_to_reference"] = round(out["status"]["p99_ms"]
                                                  / out["reference_me"]["p99_ms"], 2)
            return out
        finally:
            proc.terminate()
            proc.wait(10)


def cli(json_out: bool = typer.Option(False, "--json")) -> None:
    """GET /api/v1/status p50/p99 under 50 concurrent clients, vs GET /api/v1/me."""
    res = run()
    if json_out:
        print(json.dumps(res))
        return
    s, r = res["status"], res["reference_me"]
    print(f"GET /api/v1/status, {res['clients']} concurrent clients, "
          f"{res['requests_per_round']} requests x {res['rounds']} rounds: "
          f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, {s['req_per_s']:.0f} req/s, "
          f"server CPU {s['server_cpu_ms_per_request']:.2f} ms/request")
    print(f"reference GET /api/v1/me (token check + framework), same run: "
          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['req_per_s']:.0f} req/s, "
          f"server CPU {r['server_cpu_ms_per_request']:.2f} ms/request; "
          f"status/me p99 ratio {res['p99_ratio_to_reference']}x")
