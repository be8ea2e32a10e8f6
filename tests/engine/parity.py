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


DUST_VALUE = 1e-12  # a closed trade's remaining value below this is float dust


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
    last one. Such live trades are named and set aside.

    Freqtrade's float dust (order-level trades with a partial exit): the backtester
    sums a trade's order amounts in floats' short decimal forms, as Freqtrade does;
    after a partial exit the final exit can leave a remainder of ~1e-14 units, which
    it reports as the closed trade's amount, with that dust's cost over the dust as
    its averaged open rate (Freqtrade's own export does the same). The live engine
    sells what the wallet holds (Decimals), so nothing remains and the trade keeps
    the amount and averaged open rate before its final exit. For such a trade those two
    numbers are set aside; its orders are compared one by one (`assert_same_orders`).
    The same dust shows on a trade the backtester force-closes at the end of the data
    after partial exits (the live trade is still open, holding what the force exit
    sold): set aside alike."""
    at_end = [r for r in live if r.open_ms >= last_open_ms[r.pair]]
    live = [r for r in live if r.open_ms < last_open_ms[r.pair]]
    assert all(r.close_ms is None for r in at_end)
    assert len(live) == len(bt), (len(live), len(bt), _first_diff(live, bt))
    for a, b in zip(live, bt, strict=True):
        where = f"first difference: live {a} vs backtest {b} at {ms_to_dt(a.open_ms)}"
        assert (a.pair, a.open_ms, a.close_ms, a.reason) == (
            b.pair, b.open_ms, b.close_ms, b.reason), where
        assert _close(a.close_rate, b.close_rate), where
        if b.amount * b.open_rate < DUST_VALUE:
            continue  # Freqtrade's float dust: see above
        assert _close(a.open_rate, b.open_rate) and _close(a.amount, b.amount), where


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def _first_diff(a: list[Row], b: list[Row]) -> str:
    for x, y in zip(a, b, strict=False):
        if (x.pair, x.open_ms, x.close_ms) != (y.pair, y.open_ms, y.close_ms):
            return f"live {x} vs backtest {y}"
    return "lists differ in length only"


# ---------------------------------------------------------------- order by order
RULES = ("stop_loss", "roi", "trailing_stop_loss")


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One filled order as both sides can state it (times: candle open ms)."""

    pair: str
    trade_open_ms: int
    seq: int
    side: str
    tag: str
    amount: float
    price: float
    filled_ms: int


def _iso_ms(s: str) -> int:
    return round(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def live_orders(eng: Engine, tf_ms: int = 300_000) -> tuple[list[Row], list[OrderLine]]:
    """The engine's order-level trades and their filled orders, stamped as the
    backtester stamps them. A fill the engine saw at a candle's close (a resting limit
    crossed by the candle, or an exit rule inside it) happened inside that candle:
    the backtester stamps it with the candle's OPEN time, one timeframe earlier. An
    order filled where it was placed (at the next open) keeps its time."""
    from engine.storage.models import Fill, Order, Proposal

    rows: list[Row] = []
    lines: list[OrderLine] = []
    with eng.sessions() as s:
        trades = s.exec(select(Trade).order_by(col(Trade.id))).all()
        for t in trades:
            open_ms = round(t.open_at.timestamp() * 1000)
            orders = s.exec(select(Order, Proposal.reasons)
                            .join(Proposal, col(Proposal.id) == Order.proposal_id)
                            .where(Order.trade_id == t.id, col(Order.filled) > 0)
                            .order_by(col(Order.id))).all()
            last_ms = None
            for seq, (o, reasons) in enumerate(orders):
                tag = str(reasons[0]) if reasons else ""
                fills = s.exec(select(Fill.ts).where(Fill.order_id == o.id)).all()
                at = round(max(fills).timestamp() * 1000)
                if at > round(o.created_at.timestamp() * 1000) or tag in RULES:
                    at -= tf_ms
                lines.append(OrderLine(t.symbol, open_ms, seq, o.side, tag, float(o.filled),
                                       float(o.average_price or 0), at))
                last_ms = at
            rows.append(Row(t.symbol, open_ms, None if t.is_open else last_ms,
                            float(t.open_price),
                            None if t.close_price is None else float(t.close_price),
                            float(t.amount), t.exit_reason if not t.is_open else None))
    key = lambda r: (r.open_ms, r.pair)  # noqa: E731
    return sorted(rows, key=key), sorted(lines, key=lambda x: (x.trade_open_ms, x.pair, x.seq))


def backtest_orders(res: BacktestResult) -> list[OrderLine]:
    """The backtester's filled orders; a force exit at the end of the data is left out
    (the live trade is still open)."""
    out = [OrderLine(str(r["pair"]), _iso_ms(str(r["trade_open_time"])), int(r["seq"]),
                     str(r["side"]), str(r["tag"]), float(r["amount"]), float(r["price"]),
                     _iso_ms(str(r["filled_time"])))
           for r in res.orders if r["tag"] != "force_exit"]
    return sorted(out, key=lambda x: (x.trade_open_ms, x.pair, x.seq))


def assert_same_orders(live: list[OrderLine], bt: list[OrderLine],
                       last_open_ms: dict[str, int]) -> None:
    """Same orders: trade, sequence, side, tag and fill time exactly; amount and price
    to 12 significant digits. Orders of trades opened on a pair's last candle are set
    aside (`assert_same_trades` says why)."""
    live = [x for x in live if x.trade_open_ms < last_open_ms[x.pair]]
    assert len(live) == len(bt), (len(live), len(bt), _first_order_diff(live, bt))
    for a, b in zip(live, bt, strict=True):
        where = f"first difference: live {a} vs backtest {b} at {ms_to_dt(a.filled_ms)}"
        assert (a.pair, a.trade_open_ms, a.seq, a.side, a.tag, a.filled_ms) == (
            b.pair, b.trade_open_ms, b.seq, b.side, b.tag, b.filled_ms), where
        assert _close(a.amount, b.amount) and _close(a.price, b.price), where


def _first_order_diff(a: list[OrderLine], b: list[OrderLine]) -> str:
    for x, y in zip(a, b, strict=False):
        if (x.pair, x.trade_open_ms, x.seq, x.tag, x.filled_ms) != (
                y.pair, y.trade_open_ms, y.seq, y.tag, y.filled_ms):
            return f"live {x} vs backtest {y}"
    return "lists differ in length only"


def set_aside_exit_before_fill(live: list[Row], live_lines: list[OrderLine], bt: list[Row],
                               bt_lines: list[OrderLine]
                               ) -> tuple[list[Row], list[OrderLine], list[Row],
                                          list[OrderLine], int]:
    """The one order-level rule that cannot match by nature, named and set aside.

    A limit entry placed at the open of candle t that fills only inside candle t+1,
    while the strategy signalled an exit on candle t: the backtester (as Freqtrade's)
    fills the entry inside t+1 and exits at t+1's OPEN, a price from before the fill.
    Live, the entry is still working when that signal comes (no position to exit), so
    the trade runs to its next exit. Such a backtest trade is recognised by its signal
    exit filled at the same candle as its first entry; it and what follows on its pair
    are set aside on both sides until the two meet again at a trade opened on the same
    candle (from there both are flat and decide alike). Returns the lists left and the
    number of backtest trades set aside."""
    first_fill: dict[tuple[str, int], int] = {}
    flagged: set[tuple[str, int]] = set()
    for x in bt_lines:
        k = (x.pair, x.trade_open_ms)
        if x.side == "buy" and k not in first_fill:
            first_fill[k] = x.filled_ms
        elif (x.side == "sell" and x.tag not in RULES and first_fill.get(k) == x.filled_ms
              and x.filled_ms > x.trade_open_ms):
            flagged.add(k)
    drop_bt: set[tuple[str, int]] = set()
    drop_live: set[tuple[str, int]] = set()
    for pair, o in sorted(flagged):
        if (pair, o) in drop_bt:
            continue
        live_opens = {r.open_ms for r in live if r.pair == pair}
        later = [r.open_ms for r in bt if r.pair == pair and r.open_ms > o
                 and r.open_ms in live_opens]
        meet = min(later) if later else None
        drop_bt |= {(r.pair, r.open_ms) for r in bt if r.pair == pair and r.open_ms >= o
                    and (meet is None or r.open_ms < meet)}
        drop_live |= {(r.pair, r.open_ms) for r in live if r.pair == pair and r.open_ms >= o
                      and (meet is None or r.open_ms < meet)}
    return ([r for r in live if (r.pair, r.open_ms) not in drop_live],
            [x for x in live_lines if (x.pair, x.trade_open_ms) not in drop_live],
            [r for r in bt if (r.pair, r.open_ms) not in drop_bt],
            [x for x in bt_lines if (x.pair, x.trade_open_ms) not in drop_bt], len(drop_bt))
