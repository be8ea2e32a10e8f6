"""/twap and /vwap end to end: a trader types them in Telegram (the fake Bot API), the
real engine in paper mode is fed real BTC/USDT 5m candles as a replay would (manual
clock, one candle per step), the slices are orders in the DB, and the progress alerts
and the final report with the slippage in bps arrive in the chat."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.callbacks import CallbackSigner, derive_key
from engine.clock import ManualClock, ms_to_dt
from engine.data.candles import Bar, read_candles
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import AlgoOrder, Order
from tests.fakes.telegram_server import FakeTelegram

TRADER, VIEWER = 111, 222
DATA = Path(__file__).resolve().parents[2] / "engine" / "data" / "BTC_USDT-5m.csv.gz"
ALERT = re.compile(r"^(Filled:|(TWAP|VWAP) a[0-9]+ (started by|\S+ slice|done|stopped))")


@dataclass
class World:
    fake: FakeTelegram
    eng: Engine
    clock: ManualClock
    bars: list[Bar]
    i: int = 0

    async def step(self, n: int = 1) -> None:
        """The next `n` candles close: quotes move, due slices go out, alerts drain."""
        for _ in range(n):
            bar = self.bars[self.i]
            self.i += 1
            self.clock.set(bar.ts)
            await self.eng.on_bar(bar)
            await self.eng.tick()

    def texts(self, uid: int = TRADER) -> list[str]:
        return [m.text for m in self.fake.sent_to(uid)]


def _bars() -> list[Bar]:
    c = read_candles(DATA, "BTC/USDT", "5m")
    step_ms = 300_000
    out = []
    for k in range(len(c) - 1):
        out.append(Bar("BTC/USDT", "5m", ms_to_dt(int(c.open_time[k]) + step_ms),
                       float(c.open[k]), float(c.high[k]), float(c.low[k]), float(c.close[k]),
                       float(c.volume[k]), next_open=float(c.open[k + 1])))
    return out


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    bars = _bars()
    history, live = bars[:2 * 288], bars[2 * 288:]  # two days for the VWAP profile
    clock = ManualClock(history[-1].ts)
    fake = FakeTelegram()
    await fake.start()
    url = f"sqlite:///{tmp_path / 'algos.db'}"
    upgrade(url)
    settings = Settings(database={"url": url},
                        exchange={"mode": "paper", "slippage_bps": 5},
                        bots=[{"name": "main", "symbols": ["BTC/USDT"]}],
                        telegram={"token": fake.token, "base_url": fake.base_url,
                                  "allowed_users": {str(TRADER): "trader",
                                                    str(VIEWER): "viewer"}})
    eng = Engine(settings, SessionFactory(make_engine(url)), clock=clock)
    await eng.start()
    for b in history:
        eng.warm(b)
    tg = TelegramTransport(settings, eng, CallbackSigner(derive_key(b"a" * 32)), poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    notifier = Notifier(eng, [tg], poll_interval=0.02)
    await tg.start()
    await notifier.start()
    try:
        yield World(fake, eng, clock, live)
    finally:
        await notifier.stop()
        await tg.stop()
        await eng.close()
        await fake.stop()


async def _say(w: World, text: str, uid: int = TRADER) -> str:
    """Send a command and return the bot's direct answer to it."""
    before = len(w.fake.sent_to(uid))
    await w.fake.push_text(uid, text)
    return str(await w.fake.wait_for(lambda: next(
        (m.text for m in w.fake.sent_to(uid)[before:] if not ALERT.match(m.text)), "")))


async def test_twap_and_vwap_from_the_chat(world: World) -> None:
    w = world
    await w.step()
    # a viewer may look but not trade
    refused = await _say(w, "/twap BTC/USDT buy 0.015 30m slices 3", uid=VIEWER)
    assert refused == "/twap needs the trader role."
    ans = await _say(w, "/twap BTC/USDT buy 0.015 30m slices 3")
    assert ans.startswith("TWAP a1 started: buy 0.015 BTC/USDT in 3 slices over 30m"), ans
    progress = await _say(w, "/algos")
    assert progress.startswith("a1 TWAP buy BTC/USDT: 0.005/0.015 filled") and "slice 1/3" in progress
    await w.step(4)
    await w.fake.wait_for(lambda: any(t.startswith("TWAP a1 done") for t in w.texts()))
    report = next(t for t in w.texts() if t.startswith("TWAP a1 done"))
    assert re.search(r"buy 0\.015/0\.015 BTC/USDT in 3 of 3 slices, avg [0-9.]+ vs arrival "
                     r"[0-9.]+, slippage [+-][0-9]+\.[0-9] bps$", report), report
    assert any(t.startswith("TWAP a1 BTC/USDT slice 2/3") for t in w.texts())
    with w.eng.sessions() as s:
        orders = list(s.exec(select(Order).where(Order.algo_id == 1)
                             .order_by(col(Order.id))).all())
        algo = s.get(AlgoOrder, 1)
    assert len(orders) == 3 and all(o.state == "filled" for o in orders)
    assert [o.filled for o in orders] == [Decimal("0.005")] * 3
    assert algo is not None and algo.filled == Decimal("0.015") and algo.state == "done"
    assert [o.created_at - orders[0].created_at for o in orders] == [
        timedelta(0), timedelta(minutes=10), timedelta(minutes=20)]
    # /order TRADE shows every slice, marked with its algo
    trade_id = orders[0].trade_id
    table = await _say(w, f"/order {trade_id}")
    assert table.count(" a1 ") == 3, table

    ans = await _say(w, "/vwap BTC/USDT buy 0.01 1h")
    assert ans.startswith("VWAP a2 started: buy 0.01 BTC/USDT in 12 slices over 1h"), ans
    with w.eng.sessions() as s:
        weights = s.get(AlgoOrder, 2).weights  # type: ignore[union-attr]
    assert len(weights) == 12 and abs(sum(weights) - 1) < 1e-9
    assert max(weights) > min(weights)  # the real volume profile, not equal slices
    await w.step(13)
    await w.fake.wait_for(lambda: any(t.startswith("VWAP a2 done") for t in w.texts()))
    report = next(t for t in w.texts() if t.startswith("VWAP a2 done"))
    assert "0.01/0.01 BTC/USDT in 12 of 12 slices" in report and " bps" in report
    assert any(t.startswith("VWAP a2 BTC/USDT slice 6/12") for t in w.texts())
    with w.eng.sessions() as s:
        n = len(s.exec(select(Order).where(Order.algo_id == 2)).all())
    assert n == 12
    assert (await _say(w, "/algos")).startswith("No algo is running")
    assert "a2 VWAP buy BTC/USDT: 0.01/0.01 filled" in await _say(w, "/algos all")
