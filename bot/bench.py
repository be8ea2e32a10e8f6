"""`sentitrade bench chat`: chat latency through the real PTB stack and a fake Bot API.

Measures, against the real `engine.service.engine.Engine` in paper mode with 20 open positions:
(1) the /status round trip: update pushed to the fake Bot API -> the answer received by
it; (2) an Approve press -> paper order placed and the proposal message edited. Also
(3) /status run directly (no transport), so the transport's share is visible; and, in
the same loop, a bare HTTP POST to the fake (the reference: DESIGN.md reports speed as
ratios against a reference timed in the same run) and a /version round trip (the
transport's floor). CPU per round trip (process time, the in-process fake included)
is reported too: on a shared machine wall-clock percentiles mostly measure the other
tenants, and the load average is printed with the figures for that reason.

The transport runs with its production flood limiter and the fake enforces Telegram's
limits (429 + retry_after). The /status requests rotate over 20 users (each chat sees
one every few seconds: a person's pace). Under load (`bot.bench_load`): /status while
500 alerts are queued for each chat asking, and a 1,000-alert burst as digests.

The fake Bot API lives in tests/fakes/telegram_server.py: it is importable from a
source checkout (the repository root is added to sys.path when it holds it). An
installed wheel has no tests/: then the bench says so instead of failing obscurely.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import typer

from bot import bench_load

USERS = [str(1000 + i) for i in range(20)]
BURST_CHAT = 5000
OPEN_POSITIONS = 20


def _fake_module() -> ModuleType:
    """tests.fakes.telegram_server, from sys.path or the source checkout around us."""
    try:
        return importlib.import_module("tests.fakes.telegram_server")
    except ImportError:
        root = Path(__file__).resolve().parents[1]
        if (root / "tests" / "fakes" / "telegram_server.py").is_file():
            sys.path.insert(0, str(root))
            return importlib.import_module("tests.fakes.telegram_server")
        raise typer.BadParameter(
            "bench chat needs the fake Telegram Bot API from the source checkout "
            "(tests/fakes/telegram_server.py); run it from a clone of sentitrade "
            "(pip install -e .), not from an installed wheel") from None


def _q(xs: list[float], q: int) -> float:
    return round(statistics.quantiles(xs, n=100, method="inclusive")[q - 1], 2)


def _summary(xs: list[float], **extra: Any) -> dict[str, Any]:
    return {"p50": _q(xs, 50), "p99": _q(xs, 99), "max": round(max(xs), 2), "n": len(xs),
            **extra}


def _propose(eng: Any, amount: str = "0.001") -> int:
    """What the engine records when a signal passes risk (runner._signal_to_proposal)."""
    from engine.events import ProposalCreated, record
    from engine.storage.models import Proposal

    now = eng.clock.now()
    price = eng.quotes["BTC/USDT"].last
    with eng.sessions.begin() as s:
        bot = eng.bots.get("main")
        p = Proposal(bot_id=bot.id, symbol="BTC/USDT", side="buy", amount=Decimal(amount),
                     ref_price=price, notional=price * Decimal(amount), reasons=["bench"],
                     created_at=now, expires_at=now + timedelta(seconds=300))
        s.add(p)
        s.flush()
        assert p.id is not None
        record(s, ProposalCreated(ts_event=now, proposal_id=p.id, bot="main", symbol=p.symbol,
                                  side="buy", intent="enter", amount=p.amount,
                                  ref_price=p.ref_price, notional=p.notional, stop_price=None,
                                  reasons=["bench"], expires_at=p.expires_at,
                                  needs_approval=True))
        return p.id


async def _bench(n_status: int = 200, n_press: int = 30, warmup: int = 20,
                 pause: float = 0.05, n_queued: int = 100, queued: int = 500,
                 n_burst: int = 1000) -> dict[str, Any]:
    from bot.telegram import TelegramTransport
    from commands import dispatch
    from commands.alerts import proposal_reply
    from commands.base import Ctx, Identity
    from commands.callbacks import CallbackSigner, derive_key
    from engine.execution.paper import Quote
    from engine.service.engine import Engine
    from engine.storage.config import Settings
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.migrate import upgrade

    fake_mod = _fake_module()
    fake = fake_mod.FakeTelegram(limits=fake_mod.Limits())  # Telegram's real limits
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        settings = Settings.model_validate({
            "database": {"url": url},
            "exchange": {"mode": "paper", "slippage_bps": 0},
            "bots": [{"name": "main", "symbols": ["BTC/USDT"]}],
            "risk": {"max_open_trades": 1000, "max_trades_per_day": 1000},
            "telegram": {"token": fake.token, "base_url": fake.base_url,
                         "allowed_users": {u: "trader" for u in USERS}}})
        eng = Engine(settings, SessionFactory(make_engine(url)))
        await eng.start()
        eng.quotes["BTC/USDT"] = Quote(Decimal("60000"))
        for _ in range(OPEN_POSITIONS):
            await eng.approve(_propose(eng), "bench")
        assert len(eng.open_trades()) == OPEN_POSITIONS
        signer = CallbackSigner(derive_key(b"bench" * 8))
        tg = TelegramTransport(settings, eng, signer, poll_timeout=10)  # production limiter
        await tg.start()
        try:
            ctx = Ctx(api=eng, user=Identity("telegram", USERS[0], "bench", "trader"))
            direct: list[float] = []
            for i in range(n_status + warmup):
                t0 = time.perf_counter()
                reply = await dispatch(ctx, "status", [])
                if i >= warmup:
                    direct.append((time.perf_counter() - t0) * 1000)
            assert f"Open positions: {OPEN_POSITIONS}" in reply.text, reply.text
            risk: list[float] = []
            for i in range(n_status + warmup):
                t0 = time.perf_counter()
                eng.risk_status()
                if i >= warmup:
                    risk.append((time.perf_counter() - t0) * 1000)

            cpu: dict[str, list[float]] = {"/version": [], "/status": []}

            async def roundtrip(chat: int, text: str) -> float:
                n = len(fake.sent_to(chat))
                t0, c0 = time.perf_counter(), time.process_time()
                await fake.push_text(chat, text)
                await fake.wait_for(lambda: len(fake.sent_to(chat)) > n, timeout=10)
                cpu[text].append((time.process_time() - c0) * 1000)
                return (time.perf_counter() - t0) * 1000

            # interleaved, so the three see the same machine load
            status: list[float] = []
            version: list[float] = []
            http: list[float] = []
            send_url = f"{fake.base_url}{fake.token}/sendMessage"
            async with httpx.AsyncClient() as raw:
                for i in range(n_status + warmup):
                    t0 = time.perf_counter()
                    r = await raw.post(send_url, data={"chat_id": str(10**9 + i),
                                                       "text": "ref"})
                    dt = (time.perf_counter() - t0) * 1000
                    r.raise_for_status()
                    await asyncio.sleep(pause)
                    v = await roundtrip(int(USERS[i % len(USERS)]), "/version")
                    await asyncio.sleep(pause)
                    st = await roundtrip(int(USERS[(i + 10) % len(USERS)]), "/status")
                    await asyncio.sleep(pause)
                    if i >= warmup:
                        http.append(dt)
                        version.append(v)
                        status.append(st)
            last = fake.sent_to(int(USERS[(n_status + warmup - 1 + 10) % len(USERS)]))[-1]
            assert f"Open positions: {OPEN_POSITIONS}" in last.text, last.text

            async def status_reply(chat: int, text: str) -> float:
                """Round trip to the /status answer (alerts arrive in the chat too)."""
                def answers() -> int:
                    return sum("Open positions" in m.text for m in fake.sent_to(chat))
                n = answers()
                t0 = time.perf_counter()
                await fake.push_text(chat, text)
                await fake.wait_for(lambda: answers() > n, timeout=10)
                return (time.perf_counter() - t0) * 1000

            load = await bench_load.queued_status(fake, eng, tg, USERS[:10], queued,
                                                  n_queued, pause * 5, status_reply)
            burst = await bench_load.burst(fake, eng, tg, BURST_CHAT, n_burst)

            # proposals first; a person reads for a while before tapping (Telegram paces
            # each chat to ~1 message/s, and the edit must not wait for that)
            cards: list[tuple[int, int, int]] = []
            for i in range(n_press + 5):
                pid = _propose(eng)
                prop = eng.get_proposal(pid)
                assert prop is not None
                chat = int(USERS[i % len(USERS)])
                cards.append((pid, chat, await tg.send_reply(chat, proposal_reply(prop))))
            await asyncio.sleep(1.1)
            press: list[float] = []
            for i, (pid, chat, mid) in enumerate(cards):
                t0 = time.perf_counter()
                await fake.push_press(chat, mid, signer.sign("approve", pid), name="bench")
                await fake.wait_for(lambda m=mid: fake.messages[m].edits, timeout=10)
                dt = (time.perf_counter() - t0) * 1000
                got = eng.get_proposal(pid)
                assert got is not None and got.state == "executed", got
                assert "Approved by bench" in fake.messages[mid].edits[-1]
                if i >= 5:
                    press.append(dt)
                await asyncio.sleep(pause)
        finally:
            await tg.stop()
            await fake.stop()
            await eng.close()
            eng.sessions.engine.dispose()

    ref = statistics.median(http)
    queued_ms = load.pop("times")
    return {"engine": "engine.service.engine.Engine (paper, SQLite)",
            "reference_http_ms": _summary(http, what="bare HTTP POST to the fake Bot API"),
            "status_command_ms": _summary(direct, open_positions=OPEN_POSITIONS),
            "engine_risk_status_ms": _summary(risk, what="the engine call /status waits on"),
            "version_roundtrip_ms": _summary(
                version, ratio_p50=round(statistics.median(version) / ref, 1),
                cpu_p50=round(statistics.median(cpu["/version"][warmup:]), 2)),
            "status_roundtrip_ms": _summary(
                status, open_positions=OPEN_POSITIONS, target_p99=50,
                ratio_p50=round(statistics.median(status) / ref, 1),
                cpu_p50=round(statistics.median(cpu["/status"][warmup:]), 2)),
            "status_with_alerts_queued_ms": _summary(queued_ms, target_p99=100, **load),
            "burst": burst,
            "flood_429s": fake.rejections_429, "flood_violations": fake.violations,
            "approve_to_edit_ms": _summary(press, target_p99=200),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count()}


def cli(json_out: bool = typer.Option(False, "--json", help="machine-readable JSON")) -> None:
    """Chat under Telegram's limits: /status (also with 500 alerts queued), a 1,000-alert
    burst, approve press -> order + edit (paper)."""
    res = asyncio.run(_bench())
    if json_out:
        print(json.dumps(res))
        return
    r, c = res["reference_http_ms"], res["status_command_ms"]
    v, s, a = res["version_roundtrip_ms"], res["status_roundtrip_ms"], res["approve_to_edit_ms"]
    print(f"engine: {res['engine']}, {OPEN_POSITIONS} open positions; "
          f"load average {res['load_average']} on {res['cpus']} CPUs")
    print(f"reference, bare HTTP POST to the fake: p50 {r['p50']} ms, p99 {r['p99']} ms")
    k = res["engine_risk_status_ms"]
    print(f"/status command alone (no transport): p50 {c['p50']} ms, p99 {c['p99']} ms; "
          f"of which Engine.risk_status() p50 {k['p50']} ms")
    print(f"/version round trip (transport floor): p50 {v['p50']} ms, p99 {v['p99']} ms "
          f"({v['ratio_p50']}x reference; CPU {v['cpu_p50']} ms)")
    print(f"/status round trip via fake Bot API: p50 {s['p50']} ms, p99 {s['p99']} ms "
          f"({s['ratio_p50']}x reference; CPU {s['cpu_p50']} ms; target p99 < 50 ms)")
    q, b = res["status_with_alerts_queued_ms"], res["burst"]
    print(f"/status with {q['queued_per_chat']} alerts queued per chat ({q['chats']} chats, "
          f"{q['alerts_sent_meanwhile']} alerts sent meanwhile, {q['pending_after']} still "
          f"queued): p50 {q['p50']} ms, p99 {q['p99']} ms (target p99 < 100 ms); slowest "
          f"{q['slowest_ms']} ms, of which waiting for a send slot at most "
          f"{q['reply_slot_wait_max_ms']} ms")
    print(f"burst of {b['alerts']} alerts to one chat: delivered in {b['seconds']} s as "
          f"{b['messages']} messages (digests), in order: {b['in_order']}, all accounted: "
          f"{b['all_accounted']}, undelivered {b['undelivered']}")
    print(f"flood control: {res['flood_429s']} answers 429 from the fake Bot API "
          f"(Telegram's limits on), {res['flood_violations']} sends during a penalty")
    print(f"approve press -> order placed + message edited: p50 {a['p50']} ms, "
          f"p99 {a['p99']} ms (target < 200 ms)")
