"""A rebalance bot's ONE proposal in the chat: the card lists every leg, and the
Approve / Reject buttons work as for any proposal (Approve places all the legs,
Reject none)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bot.flood import FloodLimiter, telegram_lanes
from bot.notifier import Notifier
from bot.telegram import TelegramTransport
from commands.callbacks import CallbackSigner, derive_key
from engine.data.candles import Bar
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Order, OrderState
from tests.fakes.telegram_server import FakeTelegram

TRADER = 111
PRICES = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0}

Real = tuple[FakeTelegram, Engine]


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[Real]:
    fake = FakeTelegram()
    await fake.start()
    url = f"sqlite:///{tmp_path / 'rb.db'}"
    upgrade(url)
    settings = Settings(
        database={"url": url},
        exchange={"mode": "paper", "slippage_bps": 0},
        bots=[{"name": "basket", "strategy": "rebalance",
               "symbols": list(PRICES), "approval_mode": "manual",
               "params": {"weights": {"BTC/USDT": 0.6, "ETH/USDT": 0.4}, "every": "1d"}}],
        telegram={"token": fake.token, "base_url": fake.base_url,
                  "allowed_users": {str(TRADER): "trader"}})
    eng = Engine(settings, SessionFactory(make_engine(url)))
    await eng.start()
    tg = TelegramTransport(settings, eng, CallbackSigner(derive_key(b"r" * 32)), poll_timeout=1,
                           rate_limiter=FloodLimiter(telegram_lanes(scale=0.05)))
    notifier = Notifier(eng, [tg], poll_interval=0.02)
    tg.on_decided = notifier.proposal_decided
    await tg.start()
    await notifier.start()
    try:
        yield fake, eng
    finally:
        await notifier.stop()
        await tg.stop()
        await eng.close()
        await fake.stop()


async def _propose(fake: FakeTelegram, eng: Engine) -> tuple[int, int]:
    """Both pairs close a candle: the bot proposes; the chat gets the card."""
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    for sym, px in PRICES.items():
        eng.quotes[sym] = Quote(Decimal(repr(px)))
        await eng.rebalancer.on_bar(Bar(sym, "5m", ts, px, px, px, px, 1.0))
    pending = eng.pending_proposals()
    assert len(pending) == 1 and pending[0].id is not None
    mid = await fake.wait_for(lambda: next((m.message_id for m in fake.sent_to(TRADER)
                                            if m.reply_markup), 0))
    return pending[0].id, mid


def _orders(eng: Engine) -> list[Order]:
    with eng.sessions() as s:
        return list(s.exec(select(Order)).all())


def _button(fake: FakeTelegram, mid: int, label: str) -> str:
    for row in fake.messages[mid].reply_markup["inline_keyboard"]:
        for b in row:
            if b["text"].startswith(label):
                return str(b["callback_data"])
    raise AssertionError(f"no {label} button")


async def test_approve_button_places_every_leg(real: Real) -> None:
    fake, eng = real
    pid, mid = await _propose(fake, eng)
    card = fake.messages[mid].text
    assert "REBALANCE 2 legs" in card and "BTC/USDT" in card and "ETH/USDT" in card
    cq = await fake.push_press(TRADER, mid, _button(fake, mid, "Approve"))
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert fake.answer_for(cq)["text"] == "Approved."  # type: ignore[index]
    orders = _orders(eng)
    assert sorted(o.symbol for o in orders) == sorted(PRICES)
    assert all(o.state == OrderState.FILLED and o.side == "buy" for o in orders)
    assert eng.get_proposal(pid).state == "executed"  # type: ignore[union-attr]
    # 60/40 of the paper wallet (fees aside; the last buy keeps a cent back)
    btc = next(o for o in orders if o.symbol == "BTC/USDT")
    eth = next(o for o in orders if o.symbol == "ETH/USDT")
    assert float(btc.amount) * 60_000 / (float(eth.amount) * 3_000) == pytest.approx(1.5, rel=1e-4)


async def test_reject_button_places_none(real: Real) -> None:
    fake, eng = real
    pid, mid = await _propose(fake, eng)
    cq = await fake.push_press(TRADER, mid, _button(fake, mid, "Reject"))
    await fake.wait_for(lambda: fake.answer_for(cq))
    assert eng.get_proposal(pid).state == "rejected"  # type: ignore[union-attr]
    assert _orders(eng) == [] and eng.open_trades() == []


async def test_strategy_command_shows_the_basket(real: Real) -> None:
    fake, _eng = real
    await fake.push_text(TRADER, "/strategy basket")
    await fake.wait_for(lambda: any("Bot basket: rebalance (Rebalancer)" in m.text
                                    for m in fake.sent_to(TRADER)))
    text = next(m.text for m in fake.sent_to(TRADER) if "Bot basket" in m.text)
    assert "weights" in text and "min_trade" in text


def test_list_strategies_names_rebalance() -> None:
    from engine.strategy.registry import list_strategies

    assert "rebalance" in [i.name for i in list_strategies()]


def test_bad_rebalance_params_stop_the_start(tmp_path: Path) -> None:
    from engine.errors import SentitradeError

    url = f"sqlite:///{tmp_path / 'bad.db'}"
    upgrade(url)
    settings = Settings(database={"url": url},
                        bots=[{"name": "b", "strategy": "rebalance",
                               "symbols": list(PRICES),
                               "params": {"weights": {"DOGE/USDT": 1.0}}}])
    with pytest.raises(SentitradeError, match="weights name pairs outside the basket"):
        Engine(settings, SessionFactory(make_engine(url)))
