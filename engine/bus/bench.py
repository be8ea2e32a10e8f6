"""`sentitrade bench bus [--redis URL] [--json]`: the event bus, Redis against in-process.

1. Throughput: N `OrderFilled` events (the codec's JSON envelope) appended to a stream
   while a consumer group reads them in batches and acknowledges each batch
   (append -> read_group -> ack), events per second end to end; the in-process bus in
   the same run is the reference (the ratio is what compares across machines).
2. Latency per hop, one event in flight at a time: a durable hop (append, a blocked
   ``read_group`` returns it, ack) and a pub/sub hop (publish -> a pattern subscriber
   receives it), p50 / p99 in microseconds, for both buses.
3. The tick for 100 symbols x 3 timeframes through one and through two engine worker
   processes: the collector's lockstep protocol (`engine.service.steps`: a step on
   ``market_steps``, every worker answers on ``steps_done``), each worker running the
   real strategies' ``populate_*`` over its share of the 300 series (the same work as
   `sentitrade bench engine`, window 200 to keep the run short). Wall time per step,
   and the speed-up of two workers over one (bounded by the cores this machine has
   free: the figure says how many it saw).

Without ``--redis`` a throwaway ``redis-server`` is started on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer

from engine.bus.base import EventBus
from engine.bus.codec import encode

N_SYMBOLS, TIMEFRAMES = 100, ("5m", "15m", "1h")


def _event() -> bytes:
    from engine.events import OrderFilled

    return encode(OrderFilled(ts_event=datetime.now(UTC), order_id=42, client_order_id="st-p42",
                              trade_key="st-p42-1", symbol="BTC/USDT", side="buy",
                              amount=Decimal("0.0123"), price=Decimal("97123.45"),
                              fee=Decimal("0.0000123"), order_state="filled"))


async def throughput(bus: EventBus, n: int, stream: str = "bench:tp") -> float:
    data = _event()
    done = 0

    async def consume() -> None:
        nonlocal done
        while done < n:
            got = await bus.read_group(stream, "g", "c", count=500, block_ms=1000)
            if got:
                await bus.ack(stream, "g", *[e.id for e in got])
                done += len(got)

    await bus.read_group(stream, "g", "c", count=1, block_ms=1)  # the group exists
    t0 = time.perf_counter()
    reader = asyncio.create_task(consume())
    for _ in range(n):
        await bus.append(stream, data)
    await reader
    return n / (time.perf_counter() - t0)


def _pcts(us: list[float]) -> dict[str, float]:
    s = sorted(us)
    return {"p50_us": round(statistics.median(s), 1), "p99_us": round(s[int(len(s) * 0.99)], 1)}


async def latency(bus: EventBus, n: int) -> dict[str, dict[str, float]]:
    data = _event()
    durable: list[float] = []
    await bus.read_group("bench:lat", "g", "c", count=1, block_ms=1)
    for _ in range(n):
        t0 = time.perf_counter()
        await bus.append("bench:lat", data)
        got = await bus.read_group("bench:lat", "g", "c", count=1, block_ms=1000)
        await bus.ack("bench:lat", "g", *[e.id for e in got])
        durable.append((time.perf_counter() - t0) * 1e6)
    pubsub: list[float] = []
    received = asyncio.Event()

    async def listen() -> None:
        async for _ch, _data in bus.subscribe("bench:md:*"):
            received.set()

    task = asyncio.create_task(listen())
    while await bus.publish("bench:md:X", data) == 0:  # until the subscription is live
        await asyncio.sleep(0.01)
    await asyncio.wait_for(received.wait(), 5)
    for _ in range(n):
        received.clear()
        t0 = time.perf_counter()
        await bus.publish("bench:md:X", data)
        await asyncio.wait_for(received.wait(), 5)
        pubsub.append((time.perf_counter() - t0) * 1e6)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return {"stream_append_read_ack": _pcts(durable), "pubsub_publish_receive": _pcts(pubsub)}


# ---------------------------------------------------------------- tick scaling
def _worker(url: str, name: str, part: int, parts: int, window: int, steps: int) -> None:
    """One engine worker of the scaling run (a separate process)."""
    asyncio.run(_work(url, name, part, parts, window, steps))


async def _work(url: str, name: str, part: int, parts: int, window: int, steps: int) -> None:
    import numpy as np

    from engine.bus import make_bus
    from engine.data.candles import timeframe_ms
    from engine.service.steps import DONE, STEPS, encode_done
    from engine.strategy import get_strategy
    from engine.strategy.runtime import StrategyRuntime

    rng = np.random.default_rng(7)
    keys = [(f"C{i:03d}/USDT", tf) for i in range(N_SYMBOLS) for tf in TIMEFRAMES]
    paths = {k: 100 * np.exp(np.cumsum(rng.normal(0, 0.002, window + steps + 1)))
             for k in keys}
    names = ("sentiment_fusion", "ema_rsi_cross", "news_momentum")
    mine = keys[part::parts]
    rts = {k: StrategyRuntime(get_strategy(names[i % 3]), k[1], history_candles=window)
           for i, k in enumerate(mine)}
    t0_ms = 1_735_689_600_000

    def push(k: int, decide: bool) -> None:
        for (s, tf), rt in rts.items():
            p = float(paths[(s, tf)][k])
            tfm = timeframe_ms(tf)
            close = t0_ms + (k + 1) * tfm
            rt.push(s, {"date": float(close - tfm), "close_time": float(close), "open": p,
                        "high": p * 1.001, "low": p * 0.999, "close": p, "volume": 1.0})
            if decide:
                rt.evaluate(s)

    for k in range(window):
        push(k, False)
    push(window, True)  # compile
    bus = make_bus(url)
    await bus.append(DONE, encode_done(name, -1, [name]))  # ready
    group = f"engine:{name}"
    while True:
        for e in await bus.read_group(STEPS, group, name, count=10, block_ms=1000):
            await bus.ack(STEPS, group, e.id)
            msg = json.loads(e.data)
            if msg.get("end"):
                await bus.close()
                return
            push(window + 1 + int(msg["ts"]), True)
            await bus.append(DONE, encode_done(name, int(msg["ts"]), [name]))


async def _drive(url: str, workers: int, window: int, steps: int) -> list[float]:
    from engine.bus import make_bus
    from engine.service.steps import DONE, STEPS, decode_done

    bus = make_bus(url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(url, f"w{i}", i, workers, window, steps))
             for i in range(workers)]
    for p in procs:
        p.start()
    group = f"drive{workers}"
    ready: set[str] = set()
    while len(ready) < workers:
        for e in await bus.read_group(DONE, group, "d", count=10, block_ms=1000):
            ready.add(decode_done(e.data)[0])
            await bus.ack(DONE, group, e.id)
    wall: list[float] = []
    for k in range(steps):
        t0 = time.perf_counter()
        await bus.append(STEPS, json.dumps({"ts": k, "bars": []}).encode())
        seen: set[str] = set()
        while len(seen) < workers:
            for e in await bus.read_group(DONE, group, "d", count=10, block_ms=1000):
                w, ts, _ = decode_done(e.data)
                if ts == k:
                    seen.add(w)
                await bus.ack(DONE, group, e.id)
        wall.append((time.perf_counter() - t0) * 1000)
    await bus.append(STEPS, b'{"end":true}')
    for p in procs:
        p.join(60)
    await bus.close()
    return wall


def scaling(url: str, window: int = 200, steps: int = 20) -> dict[str, float]:
    import redis

    out: dict[str, float] = {}
    for workers in (1, 2):
        redis.Redis.from_url(url).flushdb()
        wall = asyncio.run(_drive(url, workers, window, steps))
        out[f"tick_wall_ms_{workers}_worker"] = round(statistics.median(wall), 2)
    out["speedup_2_over_1"] = round(out["tick_wall_ms_1_worker"] / out["tick_wall_ms_2_worker"], 2)
    out["cores_free_hint"] = float(len(os.sched_getaffinity(0)))
    out["series"], out["window"], out["steps"] = float(N_SYMBOLS * len(TIMEFRAMES)), window, steps
    return out


# ---------------------------------------------------------------- the command
@contextmanager
def redis_server() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found: apt-get install redis-server, or --redis URL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", d],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def run(url: str, n: int = 20_000, hops: int = 2_000) -> dict[str, Any]:
    from engine.bus import make_bus

    async def buses() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, u in (("memory", ""), ("redis", url)):
            bus = make_bus(u)
            out[name] = {"events_per_s": round(await throughput(bus, n)),
                         **await latency(bus, hops)}
            await bus.close()
        return out

    import redis

    redis.Redis.from_url(url).flushdb()
    res = asyncio.run(buses())
    res["redis_over_memory_throughput"] = round(
        res["redis"]["events_per_s"] / res["memory"]["events_per_s"], 4)
    res["event_bytes"] = len(_event())
    res["scaling"] = scaling(url)
    return res


def cli(
    redis_url: Annotated[str | None, typer.Option(
        "--redis", help="a Redis server to use (default: start a throwaway one)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Event bus: events/s and per-hop latency, Redis vs in-process; tick scaling 1 -> 2
    engine workers."""
    if redis_url:
        res = run(redis_url)
    else:
        with redis_server() as url:
            res = run(url)
    if json_out:
        print(json.dumps(res, indent=2))
        return
    for name in ("memory", "redis"):
        r = res[name]
        print(f"{name:7s} {r['events_per_s']:>9,} events/s append->read->ack | hop p50/p99 "
              f"stream {r['stream_append_read_ack']['p50_us']:.0f}/"
              f"{r['stream_append_read_ack']['p99_us']:.0f} us, pub/sub "
              f"{r['pubsub_publish_receive']['p50_us']:.0f}/"
              f"{r['pubsub_publish_receive']['p99_us']:.0f} us")
    sc = res["scaling"]
    print(f"redis/in-process throughput ratio {res['redis_over_memory_throughput']}; "
          f"event {res['event_bytes']} bytes")
    print(f"tick 100 symbols x 3 timeframes: 1 worker {sc['tick_wall_ms_1_worker']} ms, "
          f"2 workers {sc['tick_wall_ms_2_worker']} ms (x{sc['speedup_2_over_1']}, "
          f"{sc['cores_free_hint']:.0f} cores)")
