"""Replays you can steer: with someone able to decide (a chat, the API, the console),
the replay clock stands still while a proposal waits, so a trader can replay last month
and approve from the phone; undecided proposals expire after the approval window of wall
time, with a note; and the service keeps serving after the replay ends, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from engine.service.replay import wait_for_decisions
from engine.service.scheduler import serve
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Proposal, ProposalState

SAMPLE = Path(__file__).resolve().parents[2] / "engine" / "data"


def _short_sample(folder: Path, rows: int = 1500) -> Path:
    folder.mkdir()
    for name in ("BTC_USDT-5m.csv.gz",):
        with gzip.open(SAMPLE / name, "rt") as f:
            lines = f.read().splitlines()[: rows + 1]
        (folder / name.removesuffix(".gz")).write_text("\n".join(lines) + "\n")
    return folder


def _last_open_ms(folder: Path) -> int:
    last = (folder / "BTC_USDT-5m.csv").read_text().strip().splitlines()[-1]
    return int(last.split(",")[0])


async def test_undecided_proposals_expire_after_the_wall_window(engine_factory: Any) -> None:
    eng = await engine_factory()
    now = eng.clock.now()
    with eng.sessions.begin() as s:
        for _ in range(2):
            s.add(Proposal(symbol="BTC/USDT", side="buy", amount=1, ref_price=100,
                           notional=100, created_at=now, expires_at=now.replace(year=2100)))
    assert await wait_for_decisions(eng, 0.3, poll_s=0.05) == 2
    with eng.sessions() as s:
        rows = s.exec(select(Proposal)).all()
    assert {r.state for r in rows} == {ProposalState.EXPIRED}
    assert all("wall time" in (r.decision_note or "") for r in rows)
    assert await wait_for_decisions(eng, 0.3) == 0  # nothing pending: no pause


class Phone:
    """Approves every pending proposal a moment after it appears, like a person."""

    def __init__(self) -> None:
        self.api: Any = None
        self.approved: list[int] = []
        self._task: asyncio.Task[None] | None = None

    def __call__(self, api: Any) -> Phone:
        self.api = api
        return self

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for p in self.api.pending_proposals():
                await asyncio.sleep(0.05)
                d = await self.api.approve(p.id, "telegram:111")
                if d.changed:
                    self.approved.append(p.id)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def test_a_manual_replay_waits_for_the_phone_and_keeps_serving(tmp_path: Path) -> None:
    data = _short_sample(tmp_path / "data")
    url = f"sqlite:///{tmp_path / 'steer.db'}"
    settings = Settings(database={"url": url},  # type: ignore[arg-type]
                        exchange={"mode": "replay", "replay_data": data},  # type: ignore[arg-type]
                        approvals={"mode": "manual", "expiry_seconds": 30},  # type: ignore[arg-type]
                        security={"key_file": tmp_path / "master.key"},  # type: ignore[arg-type]
                        bots=[{"name": "main", "strategy": "ema_rsi_cross",  # type: ignore[list-item]
                               "symbols": ["BTC/USDT"]}])
    phone = Phone()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, attach=phone, console=True))
    sessions = SessionFactory(make_engine(url))
    try:
        last_close = datetime.fromtimestamp(_last_open_ms(data) / 1000 + 300, UTC)
        for _ in range(1200):  # until the replay reached its last candle
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
            if phone.api is not None and phone.api.clock.now() >= last_close and not (
                    phone.api.pending_proposals()):
                break
        await asyncio.sleep(1.0)
        assert not task.done()  # keeps serving after the replay
        with sessions() as s:
            props = s.exec(select(Proposal)).all()
        assert len(props) >= 4
        # every proposal waited for the phone: none expired while the replay raced on
        assert all(p.state not in (ProposalState.EXPIRED, ProposalState.PENDING) for p in props), [
            (p.id, p.state, p.decided_by, p.decision_note, p.intent) for p in props]
        assert sum(p.decided_by == "telegram:111" for p in props) >= 4
        assert len(phone.approved) >= 4
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        sessions.engine.dispose()
