"""Helpers of the live = backtest tests: run a replay through the live engine with the
backtester's rules, and put both trade lists in one comparable form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from engine.backtest.runner import BacktestResult
from engine.clock import ManualClock, ms_to_dt
from engine.data.feeds import ReplayFeed
from engine.outbox import Notifier
from engine.service.engine import Engine
from engine.service.replay import run_replay
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Trade


class Silent:
    """A notifier that drops alerts (thousands of fills are not the point here)."""

    name = "silent"

    async def send(self, *a: Any, **k: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Row:
    """One trade as both sides can state it. Times are candle open times (ms)."""

    pair: str
    open_ms: int
    close_ms: int | None
    open_rate: float
    close_rate: float | None
    amount: float
    reason: str | None


def parity_settings(url: str, data: Path, pairs: list[str], strategy: str, quote: str,
                    stake: str, **extra: Any) -> Settings:
    """Replay + paper broker + auto approvals with the backtester's rules: a fixed stake,
    the same fees, no slippage, slots and risk limits that never bind, breakers that
    never trip (the backtester has none)."""
    return Settings(
        database={"url": url},  # type: ignore[arg-type]
        exchange={"mode": "replay", "replay_data": data, "quote": quote,  # type: ignore[arg-type]
                  "starting_balance": "1000000", "maker_fee": "0.001", "taker_fee": "0.001",
                  "slippage_bps": 0},
        approvals={"mode": "auto"},  # type: ignore[arg-type]
        risk={"sizing": "fixed_stake", "stake_amount": stake,  # type: ignore[arg-type]
              "max_position_pct": 100, "max_total_exposure_pct": 1000,
              "max_asset_exposure_pct": 1000, "max_trades_per_day": 1_000_000,
              "max_open_trades": 1_000_000, "daily_loss_pct": 100, "drawdown_pause_pct": 100,
              "drawdown_stop_pct": 100, "price_spike_pct": 1e9},
        bots=[{"name": "parity", "strategy": strategy, "symbols": pairs,  # type: ignore[list-item]
               "timeframe": "5m", **extra}],
    )


async def replay_live(settings: Settings, pairs: list[str], *,
                      start_ms: int | None = None, end_ms: int | None = None,
                      notifiers: list[Notifier] | None = None,
                      timeframes: list[str] | None = None) -> Engine:
    """The live engine over the replay, to the end; returns the (closed) engine."""
    url = settings.database.url
    upgrade(url)
    clock = ManualClock(datetime(2000, 1, 1, tzinfo=UTC))
    eng = Engine(settings, SessionFactory(make_engine(url)), clock=clock,
                 notifiers=notifiers or [Silent()])  # type: ignore[list-item]
    await eng.start(reconcile=False)
    feed = ReplayFeed(settings.exchange.replay_data, pairs, timeframes or ["5m"], clock,
                      start_ms=start_ms, end_ms=end_ms)
    await run_replay(eng, feed)
    await eng.close()
    return eng


def live_rows(eng: Engine, tf_ms: int = 300_000, bot_id: int | None = None) -> list[Row]:
    """The engine's trades, stamped as the backtester stamps them: an exit decided at a
    candle's close (exit signal) happens at the next candle's open, which is the close
    time; an exit rule (stop, ROI, trailing) fires inside the candle that closed, which
    the backtester stamps with that candle's OPEN time (the engine learns of it at the
    close: one timeframe later)."""
    out: list[Row] = []
    with eng.sessions() as s:
        q = select(Trade).order_by(col(Trade.id))
        if bot_id is not None:
            q = q.where(Trade.bot_id == bot_id)
        trades = s.exec(q).all()
    for t in trades:
        open_ms = round(t.open_at.timestamp() * 1000)
        close_ms = None if t.close_at is None else round(t.close_at.timestamp() * 1000)
        if close_ms is not None and t.exit_reason in ("stop_loss", "roi", "trailing_stop_loss"):
            close_ms -= tf_ms
        out.append(Row(t.symbol, open_ms, close_ms, float(t.open_price),
                       None if t.close_price is None else float(t.close_price),
                       float(t.amount), t.exit_reason if not t.is_open else None))
    return sorted(out, key=lambda r: (r.open_ms, r.pair))


def backtest_rows(res: BacktestResult) -> list[Row]:
    """The backtester's trades; a trade it force-closes at the end of the data is still
    open in the live engine (the replay just stops): it counts as open."""
    tr = res.trades
    out = []
    for i in range(len(tr)):
        forced = str(tr.exit_reason[i]) == "force_exit"
        out.append(Row(str(tr.pair[i]), int(tr.open_ms[i]),
                       None if forced else int(tr.close_ms[i]), float(tr.open_rate[i]),
                       None if forced else float(tr.close_rate[i]), float(tr.amount[i]),
                       None if forced else str(tr.exit_reason[i])))
    return sorted(out, key=lambda r: (r.open_ms, r.pair))


def assert_same_trades(live: list[Row], bt: list[Row], last_open_ms: dict[str, int]) -> None:
    """Same trades: pairs, entry and exit times and reasons exactly; rates and amounts to
    12 significant digits (the engine keeps Decimals of 18 decimals, the backtester
    floats: a file's 5.113000000000001e-05 is stored as 0.000051130000000000).

    The one rule that differs by nature: the backtester never opens a trade on a pair's
    last candle (it could not be closed), a live engine does not know a candle is the
    last one. Such live trades are named and set aside."""
    at_end = [r for r in live if r.open_ms >= last_open_ms[r.pair]]
    live = [r for r in live if r.open_ms < last_open_ms[r.pair]]
    assert all(r.close_ms is None for r in at_end)
    assert len(live) == len(bt), (len(live), len(bt), _first_diff(live, bt))
    for a, b in zip(live, bt, strict=True):
        where = f"first difference: live {a} vs backtest {b} at {ms_to_dt(a.open_ms)}"
        assert (a.pair, a.open_ms, a.close_ms, a.reason) == (
            b.pair, b.open_ms, b.close_ms, b.reason), where
        assert _close(a.open_rate, b.open_rate) and _close(a.close_rate, b.close_rate), where
        assert _close(a.amount, b.amount), where


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def _first_diff(a: list[Row], b: list[Row]) -> str:
    for x, y in zip(a, b, strict=False):
        if (x.pair, x.open_ms, x.close_ms) != (y.pair, y.open_ms, y.close_ms):
            return f"live {x} vs backtest {y}"
    return "lists differ in length only"
