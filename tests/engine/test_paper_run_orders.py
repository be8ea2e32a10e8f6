"""`sentitrade run` in paper mode with a strategy that trades with ORDERS (Freqtrade's
`order_types` limit entry and exit, `stoploss_on_exchange`, `unfilledtimeout`, one
safety order through `adjust_trade_position`), as a subprocess against the loopback
fake of Binance (real ccxt), on 1s candles the test scripts, so it runs in seconds:

a limit entry below the price rests and is cancelled by `unfilledtimeout`; a second
one rests and fills on the candle that trades through it; the stop goes on the
exchange as its own order; a drop adds a safety order (the open rate averages); an
exit signal places a limit exit above the price, which fills when a candle reaches it.
Everything is read back from the run's sqlite database. A second run in LIVE mode (the
ccxt broker) on a thin fake book: a resting limit entry fills in part, the timeout
cancels the rest, the trade holds what filled, one native stop protects it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_paper_run import REPO, _rows, _start, _wait_for
from tests.fakes.exchange_server import FakeBinance

STEP = 1_000

STRATEGY = '''
from engine.strategy import Strategy


class LimitDca(Strategy):
    """Limit entries 1 % under the price on a candle closing at 101, a limit exit 1 %
    over it on one closing at 105; one safety order of 50 stake below -3 %."""

    timeframe = "1s"
    stoploss = -0.10
    order_types = {"entry": "limit", "exit": "limit", "stoploss": "market",
                   "stoploss_on_exchange": True}
    unfilledtimeout = {"entry": 3, "exit": 60, "unit": "seconds"}
    position_adjustment_enable = True
    max_entry_position_adjustment = 1

    def populate_indicators(self, frame, metadata):
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"] == 101.0
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_long"] = frame["close"] == 105.0
        return frame

    def custom_entry_price(self, pair, trade, current_time, proposed_rate, entry_tag,
                           side, **kwargs):
        # the first entry rests under the price; the safety order takes the price
        return proposed_rate * 0.99 if trade is None else proposed_rate

    def custom_exit_price(self, pair, trade, current_time, proposed_rate,
                          current_profit, exit_tag, **kwargs):
        return proposed_rate * 1.01

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit,
                              min_stake, max_stake, current_entry_rate, current_exit_rate,
                              current_entry_profit, current_exit_profit, **kwargs):
        if current_profit < -0.03 and trade.nr_of_successful_entries == 1:
            return 50.0, "safety"
        return None
'''

# the script, candle by candle from the first one after the warm start: (o, h, l, c)
SCRIPT: list[tuple[float, float, float, float]] = [
    (100.0, 101.0, 100.0, 101.0),  # 0: entry A, a limit at 99.99 rests
    *[(100.5, 100.5, 100.5, 100.5)] * 6,  # 1-6: never down to 99.99: timed out (3 s)
    (100.5, 101.0, 100.5, 101.0),  # 7: entry B, a limit at 99.99 rests
    (101.0, 101.0, 101.0, 101.0),  # 8: above it: still resting
    (101.0, 101.0, 99.5, 100.0),  # 9: trades through 99.99: filled there
    *[(100.0, 100.0, 100.0, 100.0)] * 2,  # 10-11
    (100.0, 100.0, 96.0, 96.0),  # 12: -4 %: the safety order (50 stake at 96)
    *[(97.0, 97.0, 97.0, 97.0)] * 3,  # 13-15
    (97.0, 105.0, 97.0, 105.0),  # 16: exit signal, a limit at 106.05 rests
    (105.0, 105.0, 105.0, 105.5),  # 17: not reached
    (105.5, 107.0, 105.5, 106.0),  # 18: reached: the exit fills at 106.05
]


def _config(tmp: Path, url: str) -> Path:
    cfg = tmp / "paper.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp / 'paper.db'}"
[exchange]
id = "binance"
mode = "paper"
api_url = "{url}"
start_retries_s = [0.5]
slippage_bps = 0
[approvals]
mode = "auto"
[risk]
sizing = "fixed_stake"
stake_amount = 100
[engine]
tick_delay_seconds = 1
history_candles = 30
strategy_path = "{tmp / 'strategies'}"
[security]
key_file = "{tmp / 'master.key'}"
[sentiment]
sources = []
[[bots]]
name = "orders"
strategy = "LimitDca"
symbols = ["BTC/USDT"]
timeframe = "1s"
""")
    return cfg


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_limit_orders_timeout_dca_and_stop_on_exchange_in_paper_mode(
        tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "limit_dca.py").write_text(STRATEGY)
    fake = FakeBinance(prices={"BTCUSDT": Decimal("100")})
    url = await fake.start()
    db, log = tmp_path / "paper.db", tmp_path / "run.log"
    proc = await _start(_config(tmp_path, url), log)
    try:
        await _wait_for(lambda: "acting on candles closing from now on" in log.read_text(
            errors="replace"), 90, "the warm start")
        first = (int(time.time() * 1000) // STEP + 3) * STEP
        series = fake.candles.setdefault("BTCUSDT", {})
        for k, (o, h, lo, c) in enumerate(SCRIPT):
            series[first + k * STEP] = (o, h, lo, c, 1.0)
        fake.prices["BTCUSDT"] = Decimal("106")  # flat after the script
        await _wait_for(lambda: _rows(db, "select count(*) from trades where is_open = 0")
                        == [(1,)], len(SCRIPT) + 30, "the trade's close")
        await asyncio.sleep(2)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
        await fake.stop()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    cols = ("id, trade_id, side, type, state, price, amount, filled, average_price, "
            "trigger_price, error, created_at")
    orders: list[dict[str, Any]] = [dict(zip([c.strip() for c in cols.split(",")], r, strict=True))
              for r in _rows(db, f"select {cols} from orders order by id")]
    limits = [o for o in orders if o["type"] == "limit"]
    stops = [o for o in orders if o["type"] != "limit"]
    # entry A: rested at 99.99 (1 % under 101), never reached, cancelled by the timeout
    a, b, safety, exit_ = limits
    assert (a["side"], a["state"], Decimal(a["price"]), Decimal(a["filled"])) == (
        "buy", "canceled", Decimal("99.99"), 0), a
    assert a["trade_id"] is None  # nothing filled: no trade was opened
    assert "unfilledtimeout: entry order not filled" in _sentilog(tmp_path), "no timeout"
    # entry B: rested at 99.99 over a candle above it, filled there when one crossed it
    assert (b["side"], b["state"], Decimal(b["price"])) == ("buy", "filled", Decimal("99.99"))
    assert Decimal(b["filled"]) == Decimal(b["amount"]) and Decimal(b["average_price"]) == \
        Decimal("99.99")
    [(fill_at,)] = _rows(db, f"select ts from fills where order_id = {b['id']}")
    assert _at(fill_at) - _at(b["created_at"]) >= 1.5  # it rested over candle 8
    # the safety order: 50 stake at the price then (96), on the same trade
    assert (safety["side"], safety["state"], Decimal(safety["average_price"])) == (
        "buy", "filled", Decimal("96")), safety
    assert safety["trade_id"] == b["trade_id"] is not None
    assert Decimal(safety["filled"]) * 96 == pytest.approx(Decimal(50), abs=Decimal("1e-9"))
    # the exit: a limit 1 % over 105, rested over candle 17, filled at 106.05
    assert (exit_["side"], exit_["state"], Decimal(exit_["price"]),
            Decimal(exit_["average_price"])) == ("sell", "filled", Decimal("106.05"),
                                                 Decimal("106.05")), exit_
    bought = Decimal(b["filled"]) + Decimal(safety["filled"])
    assert Decimal(exit_["filled"]) == bought
    # stoploss_on_exchange: a stop order of its own after the entry fill, at the
    # trade's stop (-10 % of 99.99), replaced for the whole position after the safety
    # order, cancelled by the exit; never a failed stop while the exit limit rested
    assert [(o["side"], o["type"], Decimal(o["trigger_price"]), o["state"]) for o in stops] \
        == [("sell", "stop_market", Decimal("89.991"), "canceled")] * 2, stops
    assert [Decimal(o["amount"]) for o in stops] == [Decimal(b["filled"]), bought]
    assert all(o["trade_id"] == b["trade_id"] for o in stops)
    assert b["id"] < stops[0]["id"] < safety["id"] < stops[1]["id"] < exit_["id"]
    # the trade: amount = what filled, the open rate averaged over both entries
    # (amount, open rate and stake are Freqtrade's float accounting: equal to the fills
    # up to the last float digit)
    [(is_open, amount, stake, open_price, close_price, reason, pnl)] = _anys(
        db, "select is_open, amount, stake, open_price, close_price, exit_reason, "
            f"realized_pnl from trades where id = {b['trade_id']}")
    assert is_open == 0 and reason == "exit_signal"
    assert Decimal(amount) == pytest.approx(bought, rel=Decimal("1e-12"))
    assert Decimal(stake) == pytest.approx(Decimal(150), rel=Decimal("1e-12"))
    assert Decimal(open_price) == pytest.approx(Decimal(150) / bought, rel=Decimal("1e-12"))
    assert Decimal(close_price) == Decimal("106.05") and Decimal(pnl) > 0
    assert _rows(db, "select count(*) from trades") == [(1,)]


def _anys(db: Path, sql: str) -> list[tuple[Any, ...]]:
    return _rows(db, sql)


def _sentilog(tmp: Path) -> str:
    f = tmp / "sentitrade.log"
    return f.read_text(errors="replace") if f.exists() else ""


def _at(ts: object) -> float:
    return datetime.fromisoformat(str(ts)).timestamp()


LIVE_SCRIPT: list[tuple[float, float, float, float]] = [
    (100.0, 101.0, 100.0, 101.0),  # 0: entry, a limit at 99.99 rests on the exchange
    (101.0, 101.0, 99.5, 99.9),  # 1: through 99.99 (the test moves the fake's price)
    *[(99.9, 99.9, 99.9, 99.9)] * 8,  # 2-9: the rest is cancelled by the timeout
]


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_live_mode_keeps_a_partial_fill_after_the_timeout(tmp_path: Path) -> None:
    """The same strategy with real orders (ccxt) on the fake Binance, whose book is thin:
    the resting limit entry fills in part, `unfilledtimeout` cancels the rest, the trade
    holds what filled and its stop goes on the exchange for that amount."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "limit_dca.py").write_text(STRATEGY)
    fake = FakeBinance(prices={"BTCUSDT": Decimal("100")})
    url = await fake.start()
    db, log = tmp_path / "paper.db", tmp_path / "run.log"
    cfg = _config(tmp_path, url)
    cfg.write_text(cfg.read_text().replace('mode = "paper"', 'mode = "live"\napi_key = "k"\n'
                                           'secret = "s"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env["PYTHONPATH"] = str(REPO)
    fh = log.open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--config", str(cfg),
        "--i-understand-live-trading", cwd=str(REPO), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=fh)
    try:
        await _wait_for(lambda: "acting on candles closing from now on" in log.read_text(
            errors="replace"), 90, "the warm start")
        first = (int(time.time() * 1000) // STEP + 3) * STEP
        series = fake.candles.setdefault("BTCUSDT", {})
        for k, (o, h, lo, c) in enumerate(LIVE_SCRIPT):
            series[first + k * STEP] = (o, h, lo, c, 1.0)
        fake.prices["BTCUSDT"] = Decimal("101")
        await _wait_for(lambda: any(o.side == "BUY" for o in fake.orders.values()),
                        30, "the entry on the exchange")
        fake.liquidity["BTCUSDT"] = Decimal("0.4")
        fake.set_price("BTCUSDT", Decimal("99.9"))
        await _wait_for(lambda: _rows(db, "select state from orders where side = 'buy'")
                        == [("canceled",)], 30, "the timeout")
        await asyncio.sleep(3)  # a few more candles: the stop stays as it is
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
        await fake.stop()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    rows = _anys(db, "select side, type, state, amount, filled, trigger_price, trade_id "
                     "from orders order by id")
    (side, typ, state, amount, filled, _, tid), stop = rows[0], rows[1:]
    assert (side, typ, state) == ("buy", "limit", "canceled"), rows
    assert Decimal(filled) == Decimal("0.4") < Decimal(amount)
    assert "unfilledtimeout: entry order not filled" in _sentilog(tmp_path)
    [(is_open, t_amount)] = _anys(db, f"select is_open, amount from trades where id = {tid}")
    assert is_open == 1 and Decimal(t_amount) == Decimal("0.4")
    [(s_side, s_type, s_state, s_amount, _, trigger, s_tid)] = stop
    assert (s_side, s_type, s_state, s_tid) == ("sell", "stop_market", "open", tid), stop
    # (on the market's tick: the stop is not replaced on each candle for that)
    assert Decimal(s_amount) == Decimal("0.4") and Decimal(trigger) == Decimal("89.99")
