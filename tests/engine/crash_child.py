"""The service process the crash test kills: a replay over the sample that fills orders.

Usage: python crash_child.py DB_URL ALERTS.jsonl STEPS {init|run} [DATA_DIR]
`init` creates the bots and pauses `b2`; `run` replays the first STEPS candle steps
(resuming after a kill) with auto approvals and a low entry threshold so that many
orders fill.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.clock import ManualClock
from engine.data.feeds import ReplayFeed
from engine.outbox import JsonlNotifier
from engine.service.engine import Engine
from engine.service.replay import run_replay
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade

# sentiment_fusion with low thresholds: many orders fill in a short replay
LOW = {"entry_threshold": 0.2, "exit_threshold": 0.1}


def settings(url: str) -> Settings:
    return Settings(
        database={"url": url},  # type: ignore[arg-type]
        exchange={"mode": "replay", "slippage_bps": 5},  # type: ignore[arg-type]
        approvals={"mode": "auto"},  # type: ignore[arg-type]
        risk={"max_open_trades": 10},  # type: ignore[arg-type]
        bots=[{"name": "b1", "symbols": ["BTC/USDT", "ETH/USDT"],  # type: ignore[list-item]
               "params": LOW},
              {"name": "b2", "symbols": ["ETH/USDT"], "params": LOW}],
    )


async def main(url: str, alerts: Path, steps: int, mode: str, data: Path | None) -> None:
    upgrade(url)
    st = settings(url)
    clock = ManualClock()
    sessions = SessionFactory(make_engine(url))
    eng = Engine(st, sessions, clock=clock, notifiers=[JsonlNotifier(alerts)])
    try:
        await eng.start(reconcile=False)
        if mode == "init":
            await eng.pause_bot("b2", "test")
            return
        await _replay(eng, clock, steps, data)
    finally:
        sessions.engine.dispose()


async def _replay(eng: Engine, clock: ManualClock, steps: int, data: Path | None) -> None:
    print("READY", flush=True)  # the parent's kill timer starts here
    feed = ReplayFeed(data, ["BTC/USDT", "ETH/USDT"], "5m", clock)
    feed.candles = {k: v._take(slice(0, steps)) for k, v in feed.candles.items()}
    await run_replay(eng, feed, save_every=5)
    print("DONE", flush=True)


if __name__ == "__main__":
    data = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], data))
