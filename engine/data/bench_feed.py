"""`sentitrade bench feed`: trade messages per second from a websocket on loopback
through parsing, candle aggregation (1m, 5m, 15m, 1h) and the engine's hand-off, on one
core; the tick-to-candle latency; memory over a soak.

A publisher process (pinned to another core when there is one) serves Binance's trade
stream format on 127.0.0.1: pre-encoded ``<s>@trade`` messages for three symbols, sent
as fast as the socket takes them, to a client of the combined ``/stream`` endpoint or to
ccxt.pro's ``/ws`` SUBSCRIBE. The measuring process is pinned to one core and times:

1. the trade tape (`engine.data.tape`: one decode, documented keys) -> `DataCollector`
   -> a hand-off callback, messages/s (median of repeats; target >= 50,000/s);
2. the reference, in the same run: the same messages through ccxt.pro's own Binance
   parser (``handle_message``, its trade cache) into the same collector, without the
   socket (ccxt's ceiling: the ratio is a lower bound);
3. per trade, the wall time of `DataCollector.on_tick` (aggregation on four timeframes
   and the hand-off of any candle it closes): p50, p99, max (target p99 < 1 ms);
4. RSS over a soak: ten simulated minutes of trades at 5,000/s through the collector
   with raw retention on, sampled each simulated minute (flat = no growth after the
   retention window fills);
5. with ``--raw``: (1) again in every repeat with raw storage on (each message also into
   a SQLite raw_messages table through `engine.data.rawstore.RawArchive`), alternating
   with the run without it, and the ratio of the two medians.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import time
from typing import Any

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
UNIFIED = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TFS = ("1m", "5m", "15m", "1h")
T0 = 1_759_312_800_000  # 2025-10-01 10:00 UTC


def _payloads(n: int) -> list[str]:
    out = []
    for i in range(n):
        sym = SYMBOLS[i % 3]
        ts = T0 + i * 3  # ~330 trades a second of exchange time: candles close en route
        out.append(json.dumps({"e": "trade", "E": ts, "s": sym, "t": i + 1,
                               "p": f"{100 + (i % 997) * 0.01:.8f}", "q": "0.01000000",
                               "T": ts, "m": i % 2 == 0, "M": True}))
    return out


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def _frames(msgs: list[str]) -> bytes:
    """Server-to-client websocket text frames (unmasked, RFC 6455 5.2), all in one blob:
    the publisher writes them without per-message work, so the client is what is timed."""
    out = bytearray()
    for m in msgs:
        b = m.encode()
        if len(b) < 126:
            out += bytes((0x81, len(b)))
        else:
            out += bytes((0x81, 126)) + len(b).to_bytes(2, "big")
        out += b
    return bytes(out)


def _client_frame(buf: bytes) -> tuple[str, int] | None:
    """One masked client text frame from `buf`: (text, bytes used), None if partial."""
    if len(buf) < 6:
        return None
    n, i = buf[1] & 0x7F, 2
    if n == 126:
        n, i = int.from_bytes(buf[2:4], "big"), 4
    if len(buf) < i + 4 + n:
        return None
    mask, body = buf[i:i + 4], buf[i + 4:i + 4 + n]
    return bytes(c ^ mask[k % 4] for k, c in enumerate(body)).decode(), i + 4 + n


def _serve(port_q: Any, n: int, markets: str) -> None:
    """The publisher process: a bare asyncio server speaking just enough HTTP and
    websocket (RFC 6455) for ccxt's exchangeInfo, ccxt.pro's SUBSCRIBE and the combined
    stream; each connection is sent the `n` pre-framed messages once."""
    import base64
    import hashlib

    _pin(1)
    blob = _frames(_payloads(n))
    info = markets.encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        path = head.split(" ", 2)[1]
        if path.startswith("/api/v3/exchangeInfo"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: " + str(len(info)).encode()
                         + b"\r\n\r\n" + info)
            await writer.drain()
            writer.close()
            return
        key = next(ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
                   if ln.lower().startswith("sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                      ).encode())
        if not path.startswith("/stream"):  # ccxt.pro: answer its SUBSCRIBE first
            buf = b""
            while (got := _client_frame(buf)) is None:
                buf += await reader.read(4096)
            rid = json.loads(got[0])["id"]
            writer.write(_frames([json.dumps({"result": None, "id": rid})]))
        for k in range(0, len(blob), 1 << 20):
            writer.write(blob[k:k + (1 << 20)])
            await writer.drain()
        with contextlib.suppress(OSError):
            await reader.read()  # keep the line open until the client leaves
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_q.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _markets() -> str:
    symbols = [{"symbol": s, "status": "TRADING", "baseAsset": s[:-4], "quoteAsset": "USDT",
                "baseAssetPrecision": 8, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "permissions": ["SPOT"],
                "permissionSets": [["SPOT"]],
                "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01",
                             "maxPrice": "1000000", "tickSize": "0.01"},
                            {"filterType": "LOT_SIZE", "minQty": "0.0001", "maxQty": "9000",
                             "stepSize": "0.0001"}]} for s in SYMBOLS]
    return json.dumps({"timezone": "UTC", "serverTime": T0, "rateLimits": [],
                       "symbols": symbols})


class _Count:
    def __init__(self) -> None:
        self.candles = 0

    def __call__(self, bar: Any) -> None:
        self.candles += 1


async def _tape_run(port: int, n: int, raw_url: str | None = None) -> tuple[float, int]:
    """Tape -> collector -> hand-off; with `raw_url`, every raw message also into that
    database's raw_messages table through a `RawArchive` (batched, a worker thread)."""
    from engine.data.collector import DataCollector
    from engine.data.tape import BinanceTape

    archive = None
    if raw_url is not None:
        from engine.data.rawstore import RawArchive
        from engine.storage.db import make_engine

        archive = RawArchive(make_engine(raw_url), retention_hours=24)
    c = DataCollector(TFS, raw_retention_s=0, flush_interval_s=3600, archive=archive)
    c.add_symbols(UNIFIED)
    count = _Count()
    c.candle_listeners.append(count)
    tape = BinanceTape(c, f"ws://127.0.0.1:{port}", keep_raw=archive is not None)
    if archive is not None:
        archive.start()
    t0 = time.perf_counter()
    await tape.start(UNIFIED)
    while c.ticks < n:
        await asyncio.sleep(0.005)
        if time.perf_counter() - t0 > 120:
            break
    dt = time.perf_counter() - t0
    await tape.stop()
    if archive is not None:
        # the run is over when every message is also stored: what the writer left
        # behind counts in the time
        RAW["written_during_run"] = archive.written
        t1 = time.perf_counter()
        await archive.close()
        RAW["drain_s"] = time.perf_counter() - t1
        dt += RAW["drain_s"]
        RAW["written"] = archive.written
        RAW["dropped"] = archive.dropped
        c.raw.items.clear()
    return c.ticks / dt, count.candles


RAW: dict[str, float] = {}


def _ccxt_run(port: int, n: int) -> float:
    """ccxt.pro's own Binance parser on the same messages (json decode, handle_message,
    its trade cache) into the same collector, without the socket: ccxt's ceiling, so
    the ratio is a lower bound. The markets come from the publisher's exchangeInfo."""
    import ccxt.pro as ccxtpro

    from engine.data.collector import DataCollector
    from engine.data.exchange import rewrite_urls
    from engine.data.stream import SeenIds, Tick

    async def markets() -> Any:
        ex = ccxtpro.binance({"options": {"fetchCurrencies": False,
                                          "fetchMarkets": {"types": ["spot"]}}})
        rewrite_urls(ex, f"http://127.0.0.1:{port}")
        await ex.load_markets()
        await ex.close()
        return ex

    ex = _loop_run(markets())
    c = DataCollector(TFS, raw_retention_s=0, flush_interval_s=3600)
    c.add_symbols(UNIFIED)
    msgs = _payloads(n)

    class Client:  # what handle_message needs of a connection
        url = "wss://stream.binance.com:9443/ws"

        def __init__(self) -> None:
            self.futures: dict[str, Any] = {}
            self.rejections: dict[str, Any] = {}
            self.subscriptions: dict[str, Any] = {}

        def resolve(self, result: Any, message_hash: str) -> Any:
            return result

    client, seen = Client(), SeenIds()
    t0 = time.perf_counter()
    for m in msgs:
        ex.handle_message(client, json.loads(m))
        for sym, cache in ex.trades.items():  # what watch_trades hands its caller
            if len(cache):
                t = cache[-1]
                if seen.first(sym, int(t["id"])):
                    c.on_tick(Tick(sym, int(t["timestamp"]), float(t["price"]),
                                   float(t["amount"]), int(t["id"])))
    return n / (time.perf_counter() - t0)


def latency(n: int = 200_000) -> dict[str, float]:
    """Wall time of `on_tick` per trade (aggregation + hand-off), in microseconds."""
    from engine.data.collector import DataCollector
    from engine.data.stream import Tick

    c = DataCollector(TFS, raw_retention_s=0)
    c.add_symbols(UNIFIED)
    c.candle_listeners.append(_Count())
    ticks = [Tick(UNIFIED[i % 3], T0 + i * 3, 100 + (i % 997) * 0.01, 0.01, i)
             for i in range(n)]
    ns = time.perf_counter_ns
    lat = []
    on_tick = c.on_tick
    for t in ticks:
        a = ns()
        on_tick(t)
        lat.append(ns() - a)
    lat.sort()
    return {"p50_us": lat[n // 2] / 1000, "p99_us": lat[int(n * 0.99)] / 1000,
            "max_us": lat[-1] / 1000}


def soak(minutes: int = 10, rate: int = 5_000) -> dict[str, Any]:
    from engine.data.collector import DataCollector
    from engine.data.stream import Tick
    from engine.service.bench import _rss_mb

    now = [T0]
    c = DataCollector(TFS, raw_retention_s=60, now_ms=lambda: now[0])
    c.add_symbols(UNIFIED)
    samples = []
    i = 0
    step_us = 1_000_000 // rate
    for m in range(minutes):
        for s in range(60):
            base = T0 + (m * 60 + s) * 1000
            for k in range(rate):
                i += 1
                c.on_raw("soak", i)
                c.on_tick(Tick(UNIFIED[k % 3], base + k * step_us // 1000, 100.0, 0.01, i))
            now[0] = base + 1000
            c.flush(now[0])
        samples.append(round(_rss_mb(), 1))
    return {"rss_mb_each_minute": samples, "trades": i, "raw_kept": len(c.raw),
            "growth_after_warm_mb": round(samples[-1] - samples[1], 1)}


LOOP = {"name": "asyncio"}  # the service's loop (`asyncio.run`); --loop uvloop to compare


def _loop_run(coro: Any) -> Any:
    if LOOP["name"] == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def _loop_name() -> str:
    return LOOP["name"]


def run(n: int = 200_000, repeats: int = 3, ref_n: int = 30_000,
        soak_minutes: int = 10, soak_rate: int = 5_000, raw: bool = False) -> dict[str, Any]:
    import tempfile

    from engine.storage.migrate import upgrade

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=_serve, args=(q, max(n, ref_n), _markets()), daemon=True)
    server.start()
    tmp = tempfile.TemporaryDirectory(prefix="bench-feed-raw-")
    try:
        port = q.get(timeout=60)
        _pin(0)
        tape, ref, with_raw = [], [], []
        for k in range(repeats):
            rate, _candles = _loop_run(_tape_run(port, n))
            tape.append(rate)
            ref.append(_ccxt_run(port, ref_n))
            if raw:  # the same messages with raw storage on, alternating with off
                url = f"sqlite:///{tmp.name}/raw{k}.db"
                upgrade(url)
                with_raw.append(_loop_run(_tape_run(port, n, url))[0])
    finally:
        server.terminate()
        server.join(10)
        tmp.cleanup()
    t, r = statistics.median(tape), statistics.median(ref)
    lat = latency()
    mem = soak(soak_minutes, soak_rate)
    out = {"tape_msgs_per_s": round(t), "ccxt_pro_msgs_per_s": round(r),
           "ratio_to_ccxt_pro": round(t / r, 2), "tape_runs": [round(x) for x in tape],
           "ccxt_runs": [round(x) for x in ref], "messages": n, "latency": lat,
           "soak": mem, "loop": _loop_name(), "cores": len(os.sched_getaffinity(0)) if hasattr(
               os, "sched_getaffinity") else os.cpu_count(),
           "pass": t >= 50_000 and lat["p99_us"] < 1000}
    if raw:
        w = statistics.median(with_raw)
        out["raw"] = {"tape_msgs_per_s_raw_on": round(w), "raw_on_runs": [
            round(x) for x in with_raw], "ratio_raw_on_to_off": round(w / t, 2),
            "last_run": {k: round(v, 3) for k, v in RAW.items()}, "database": "sqlite (WAL)"}
        out["pass"] = out["pass"] and w >= 50_000
    return out


try:
    import typer

    def cli(json_out: bool = typer.Option(False, "--json"),
            messages: int = typer.Option(200_000, "--messages", min=1000),
            repeats: int = typer.Option(3, "--repeats", min=1),
            soak_minutes: int = typer.Option(10, "--soak-minutes", min=2),
            loop: str = typer.Option("asyncio", "--loop",
                                     help="asyncio (what `sentitrade run` uses) or uvloop"),
            raw: bool = typer.Option(False, "--raw",
                                     help="also run with raw messages stored in a "
                                     "database (raw_messages, batched), same messages"),
            ) -> None:
        """Trade messages/s through parsing, aggregation and hand-off (one core)."""
        if loop not in ("asyncio", "uvloop"):
            raise typer.BadParameter("--loop: asyncio or uvloop")
        if loop == "uvloop":
            try:
                import uvloop  # noqa: F401
            except ImportError:
                raise typer.BadParameter("uvloop is not installed") from None
        LOOP["name"] = loop
        res = run(messages, repeats, soak_minutes=soak_minutes, raw=raw)
        if json_out:
            print(json.dumps(res))
            return
        lat, mem = res["latency"], res["soak"]
        print(f"trade tape -> collector (1m 5m 15m 1h) -> hand-off, loopback websocket, "
              f"one core: median {res['tape_msgs_per_s']:,} msgs/s over {repeats} runs of "
              f"{messages:,}, {res['loop']} (target >= 50,000)")
        print(f"  reference, same run: ccxt.pro's parser (no socket) into the same collector: "
              f"{res['ccxt_pro_msgs_per_s']:,} msgs/s -> ratio {res['ratio_to_ccxt_pro']}x")
        if raw:
            rw = res["raw"]
            print(f"  with raw storage on (every message into raw_messages, SQLite, batched; "
                  f"timed until all are stored): median {rw['tape_msgs_per_s_raw_on']:,} msgs/s -> "
                  f"{rw['ratio_raw_on_to_off']}x of off; last run wrote "
                  f"{int(rw['last_run'].get('written', 0)):,} rows "
                  f"({int(rw['last_run'].get('written_during_run', 0)):,} while the feed ran, "
                  f"the rest in {rw['last_run'].get('drain_s', 0):.2f} s after), "
                  f"{int(rw['last_run'].get('dropped', 0))} dropped")
        print(f"tick -> candle (on_tick: 4 timeframes + hand-off): p50 {lat['p50_us']:.1f} us,"
              f" p99 {lat['p99_us']:.1f} us, max {lat['max_us']:.0f} us (target p99 < 1 ms)")
        print(f"soak: {soak_minutes} simulated minutes x 5,000 trades/s, raw kept 60 s: "
              f"RSS per minute {mem['rss_mb_each_minute']} MB "
              f"(growth after the first minute {mem['growth_after_warm_mb']} MB)")
        print("PASS" if res["pass"] else "FAIL")
except ImportError:  # pragma: no cover
    pass
