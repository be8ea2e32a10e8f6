"""`sentitrade bench chat`: chat latency through the real PTB stack and a fake Bot API.

Measures (1) /status round trip (update pushed -> answer received by the fake) with 20
open positions, and (2) Approve press -> paper order placed and message edited. Runs
offline against tests/fakes/telegram_server.py on 127.0.0.1 with the test fake engine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import typer


async def _bench() -> dict[str, Any]:
    from bot.telegram import FloodLimiter, TelegramTransport
    from commands.alerts import proposal_reply
    from commands.callbacks import CallbackSigner, derive_key
    from tests.chat.fake_api import FakeEngine, make_settings
    from tests.fakes.telegram_server import FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), telegram={
            "token": fake.token, "base_url": fake.base_url,
            "allowed_users": {"111": "trader"}})
        eng = FakeEngine(settings, propose_on_start=False)
        for _ in range(20):
            await eng.approve(eng.propose(), "bench")
        signer = CallbackSigner(derive_key(b"bench" * 8))
        # per-chat pacing off: the bench measures our latency, not Telegram's 1 msg/s
        tg = TelegramTransport(settings, eng, signer, poll_timeout=1,
                               rate_limiter=FloodLimiter(chat_max_rate=0))
        await tg.start()
        try:
            status: list[float] = []
            for i in range(220):
                n = len(fake.sent_to(111))
                t0 = time.perf_counter()
                await fake.push_text(111, "/status")
                await fake.wait_for(lambda n=n: len(fake.sent_to(111)) > n, timeout=5)
                if i >= 20:
                    status.append((time.perf_counter() - t0) * 1000)
            press: list[float] = []
            for _ in range(30):
                pid = eng.propose()
                prop = eng.get_proposal(pid)
                assert prop is not None
                mid = await tg.send_reply(111, proposal_reply(prop))
                data = signer.sign("approve", pid)
                t0 = time.perf_counter()
                await fake.push_press(111, mid, data)
                await fake.wait_for(lambda m=mid: fake.messages[m].edits, timeout=5)
                assert pid in eng.placed
                press.append((time.perf_counter() - t0) * 1000)
        finally:
            await tg.stop()
            await fake.stop()
            eng.sessions.engine.dispose()

    def p(xs: list[float], q: float) -> float:
        return round(statistics.quantiles(xs, n=100)[int(q) - 1], 2)

    return {"status_roundtrip_ms": {"p50": p(status, 50), "p99": p(status, 99),
                                    "n": len(status), "open_positions": 20, "target_p99": 50},
            "approve_to_edit_ms": {"p50": p(press, 50), "p99": p(press, 99),
                                   "max": round(max(press), 2), "n": len(press),
                                   "target": 200}}


def cli(json_out: bool = typer.Option(False, "--json", help="machine-readable JSON")) -> None:
    """Chat latency: /status round trip and approval press -> order + edit (paper)."""
    res = asyncio.run(_bench())
    if json_out:
        print(json.dumps(res))
        return
    s, a = res["status_roundtrip_ms"], res["approve_to_edit_ms"]
    print(f"/status round trip, 20 positions: p50 {s['p50']} ms, p99 {s['p99']} ms "
          f"(target p99 < 50 ms)")
    print(f"approve press -> order placed + message edited: p50 {a['p50']} ms, "
          f"p99 {a['p99']} ms (target < 200 ms)")
