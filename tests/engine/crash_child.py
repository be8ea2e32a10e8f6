"""The service process the crash test kills: a replay over the sample that fills orders.

Usage: python crash_child.py DB_URL ALERTS.jsonl STEPS {init|run}
`init` creates the bots and pauses `b2`; `run` replays the first STEPS candle steps
(resuming after a kill) with auto approvals and a low entry threshold so that many
orders fill.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.clock import ManualClock
from engine.config import Settings
from engine.db import SessionFactory, make_engine
from engine.events import JsonlNotifier
from engine.fusion import Fusion, FusionParams
from engine.market import ReplayFeed
from engine.migrate import upgrade
from engine.replay import run_replay
from engine.runner import Engine


def settings(url: str) -> Settings:
    return Settings(
        database={"url": url},  # type: ignore[arg-type]
        exchange={"mode": "replay", "slippage_bps": 5},  # type: ignore[arg-type]
        approvals={"mode": "auto"},  # type: ignore[arg-type]
        risk={"max_open_trades": 10},  # type: ignore[arg-type]
        bots=[{"name": "b1", "symbols": ["BTC/USDT", "ETH/USDT"]},  # type: ignore[list-item]
              {"name": "b2", "symbols": ["ETH/USDT"]}],
    )


async def main(url: str, alerts: Path, steps: int, mode: str) -> None:
    upgrade(url)
    st = settings(url)
    clock = ManualClock()
    sessions = SessionFactory(make_engine(url))
    eng = Engine(st, sessions, clock=clock, notifiers=[JsonlNotifier(alerts)],
                 fusion=Fusion(FusionParams(entry_threshold=0.2, exit_threshold=0.1)))
    await eng.start(reconcile=False)
    if mode == "init":
        await eng.pause_bot("b2", "test")
        return
    feed = ReplayFeed(None, ["BTC/USDT", "ETH/USDT"], "5m", clock)
    feed.candles = {k: v._take(slice(0, steps)) for k, v in feed.candles.items()}
    await run_replay(eng, feed, save_every=5)
    print("DONE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
