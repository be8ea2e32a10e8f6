"""`sentitrade run --role collector`: each symbol's candles read once, for every worker.

Replay: the collector drives the replay and is its clock. It sends one step, then
waits until every configured bot has been answered for that step on ``steps_done`` by
the worker that owns it (a bot whose worker died is answered by the worker that takes
it over, once it has rebuilt the bot), then sends the next; ``{"end": true}`` last.

Paper and live: it polls the exchange's closed candles (`engine.data.live.ServiceFeed`:
REST, or websockets with gap filling) a few seconds after each candle close and sends
what closed as one step; workers act on it as it arrives (no lockstep: the market does
not wait).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from engine.bus import EventBus, market_data
from engine.clock import ManualClock
from engine.data.candles import Bar, timeframe_ms
from engine.service.steps import DONE, STEPS, decode_done, encode_end, encode_step
from engine.storage.config import Settings

log = logging.getLogger("sentitrade.collector")
GROUP = "collector"


async def _send(bus: EventBus, ts: int, bars: list[Bar]) -> None:
    for b in bars:
        await bus.publish(market_data(b.symbol), encode_step(ts, [b]))
    await bus.append(STEPS, encode_step(ts, bars))


async def _wait_done(bus: EventBus, ts: int, bots: set[str], stop: asyncio.Event,
                     late: dict[int, set[str]]) -> None:
    """Until every bot in `bots` is answered for step `ts` (answers for later steps
    are kept in `late`; earlier ones are repeats and dropped)."""
    seen = late.pop(ts, set())
    waited = time.monotonic()
    while not bots <= seen:
        if stop.is_set():
            raise asyncio.CancelledError
        for e in await bus.read_group(DONE, GROUP, "c", count=500, block_ms=200):
            _worker, t, names = decode_done(e.data)
            if t == ts:
                seen.update(names)
            elif t > ts:
                late.setdefault(t, set()).update(names)
            await bus.ack(DONE, GROUP, e.id)
        if time.monotonic() - waited > 30:
            log.warning("step %d: still waiting for bots %s (no engine worker owns them?)",
                        ts, ", ".join(sorted(bots - seen)))
            waited = time.monotonic()


async def collect_replay(settings: Settings, bus: EventBus, stop: asyncio.Event) -> int:
    """Send every step of the replay in lockstep with the workers; returns steps sent."""
    from engine.data.feeds import ReplayFeed

    symbols = sorted({s for b in settings.bots for s in b.symbols})
    tfs = sorted({b.timeframe for b in settings.bots}, key=timeframe_ms)
    bots = {b.name for b in settings.bots}
    feed = ReplayFeed(settings.exchange.replay_data, symbols, tfs, ManualClock(),
                      speed=settings.exchange.replay_speed)
    late: dict[int, set[str]] = {}
    n = 0
    async for ts, bars in feed.run():
        await _send(bus, ts, bars)
        await _wait_done(bus, ts, bots, stop, late)
        n += 1
    await bus.append(STEPS, encode_end())
    log.info("replay sent: %d steps", n)
    return n


async def collect_live(settings: Settings, bus: EventBus, stop: asyncio.Event,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> int:
    """Poll closed candles after each close and send them as steps, until `stop`."""
    from engine.data.live import ServiceFeed

    sf = ServiceFeed(settings)
    keys = sorted({(s, b.timeframe) for b in settings.bots for s in b.symbols})
    last: dict[tuple[str, str], int] = {}
    n = 0
    try:
        history = getattr(sf.feed, "history", None)
        for sym, tf in keys:  # start after the last closed candle: act on new ones only
            past = await history(sym, tf, 1) if history is not None else []
            if past:
                last[(sym, tf)] = past[-1].close_ms
        step_ms = min(timeframe_ms(tf) for _, tf in keys)
        delay = settings.engine.tick_delay_seconds
        while not stop.is_set():
            now_ms = time.time() * 1000
            await sleep(max(0.5, (step_ms - now_ms % step_ms) / 1000 + delay))
            steps: dict[int, list[Bar]] = {}
            for key in keys:
                for bar in await sf.feed.closed_bars(key[0], key[1], last.get(key)):
                    steps.setdefault(bar.close_ms, []).append(bar)
                    last[key] = bar.close_ms
            for ts in sorted(steps):
                await _send(bus, ts, steps[ts])
                n += 1
    finally:
        await sf.close()
    return n


async def run_collector(settings: Settings, bus: EventBus, stop: asyncio.Event) -> int:
    if settings.exchange.mode == "replay":
        return await collect_replay(settings, bus, stop)
    return await collect_live(settings, bus, stop)
