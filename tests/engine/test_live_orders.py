"""The live order path on hand-made candles: limit orders through manual approvals,
`unfilledtimeout` keeping a partial fill, and `adjust_trade_position` (a safety order,
a partial exit) with Freqtrade's accounting on the trade row."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from sqlmodel import col, select

from engine.clock import ManualClock
from engine.execution.broker import BrokerFill, BrokerOrder
from engine.execution.paper import PaperBroker
from engine.outbox import ConsoleNotifier
from engine.service.engine import Engine
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import Order, OrderState, Proposal, ProposalState, Trade
from tests.engine.conftest import make_settings

# enters on a candle closing at 101, exits on one closing at 109; limit entries at
# 0.99 x the proposed rate; DCA: +50 stake once below -3 %, sell half above +4 %
PROBE = '''
from engine.strategy import Strategy


class OrderProbe(Strategy):
    stoploss = -0.5
    order_types = {"entry": "limit", "exit": "market"}
    unfilledtimeout = {"entry": 10, "unit": "minutes"}
    position_adjustment_enable = False

    def populate_indicators(self, frame, metadata):
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"] == 101.0
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_long"] = frame["close"] == 109.0
        return frame

    def custom_entry_price(self, pair, trade, current_time, proposed_rate, entry_tag,
                           side, **kwargs):
        return proposed_rate * 0.99


class DcaProbe(OrderProbe):
    order_types = {"entry": "market", "exit": "market"}
    unfilledtimeout = {}
    position_adjustment_enable = True
    max_entry_position_adjustment = 1

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit,
                              min_stake, max_stake, current_entry_rate, current_exit_rate,
                              current_entry_profit, current_exit_profit, **kwargs):
        if current_profit < -0.03 and trade.nr_of_successful_entries == 1:
            return 50.0, "safety"
        if current_profit > 0.04 and trade.nr_of_successful_exits == 0:
            return -(trade.stake_amount / 2), "take_half"
        return None


class SellAllProbe(DcaProbe):
    def adjust_trade_position(self, trade, current_time, current_rate, current_profit,
                              min_stake, max_stake, current_entry_rate, current_exit_rate,
                              current_entry_profit, current_exit_profit, **kwargs):
        if current_profit < -0.03 and trade.nr_of_successful_entries == 1:
            return 50.0, "safety"
        if current_profit > 0.04:
            return -trade.stake_amount, "sell_all"
        return None
'''

SYM = "BTC/USDT"


class HalfFill(PaperBroker):
    """A paper exchange that fills half of a crossed limit order and keeps the rest
    working (a thin book)."""

    async def fetch_order(self, order: Order) -> BrokerOrder | None:
        res = await super().fetch_order(order)
        if res is None or not res.fills or order.filled > 0:
            return None if res is None or res.fills else res
        f = res.fills[0]
        half = (order.amount / 2).quantize(Decimal("1e-18"))
        fill = BrokerFill(f.trade_key, half, f.price, f.fee / 2, f.fee_currency, f.ts)
        return BrokerOrder(res.client_order_id, res.exchange_order_id, "open", half, f.price,
                           (fill,))


async def _engine(tmp_path: Path, db_url: str, clock: ManualClock, strategy: str,
                  mode: str = "auto", broker: type[PaperBroker] | None = None) -> Engine:
    folder = tmp_path / "strategies"
    folder.mkdir(exist_ok=True)
    (folder / "probe.py").write_text(PROBE)
    settings = make_settings(
        db_url, engine={"strategy_path": folder}, approvals={"mode": mode},
        exchange={"mode": "replay", "slippage_bps": 0, "maker_fee": "0", "taker_fee": "0"},
        risk={"sizing": "fixed_stake", "stake_amount": "100", "max_position_pct": 100},
        bots=[{"name": "b1", "strategy": strategy, "symbols": [SYM],  # type: ignore[arg-type]
               "timeframe": "5m"}])
    sessions = SessionFactory(make_engine(db_url))
    holder: dict[str, Engine] = {}
    b = None
    if broker is not None:
        b = broker(sessions, lambda s: holder["eng"].quotes.get(s), clock,
                   maker_fee=Decimal(0), taker_fee=Decimal(0), slippage_bps=0)
    eng = Engine(settings, sessions, clock=clock, broker=b, notifiers=[ConsoleNotifier()])
    holder["eng"] = eng
    await eng.start()
    return eng


async def _feed(eng: Engine, clock: ManualClock, rows: Sequence[tuple[float, ...]],
                then: float | None = None) -> None:
    """(open, high, low, close) candles, each closing 5 minutes after the last; the
    next open is the next row's (as a replay knows it), `then` after the last."""
    from engine.data.candles import Bar

    for i, (o, h, lw, c) in enumerate(rows):
        clock.advance(minutes=5)
        nxt = rows[i + 1][0] if i + 1 < len(rows) else then
        await eng.on_bar(Bar(SYM, "5m", clock.now(), o, h, lw, c, 1.0, next_open=nxt))
        await eng.tick()


def _orders(eng: Engine) -> list[Order]:
    with eng.sessions() as s:
        return list(s.exec(select(Order).order_by(col(Order.id))).all())


def _trades(eng: Engine) -> list[Trade]:
    with eng.sessions() as s:
        return list(s.exec(select(Trade).order_by(col(Trade.id))).all())


async def test_limit_entry_approved_from_the_chat_rests_then_fills(tmp_path: Path, db_url: str,
                                                                    clock: ManualClock) -> None:
    eng = await _engine(tmp_path, db_url, clock, "OrderProbe", mode="manual")
    await _feed(eng, clock, [(100, 100, 100, 100), (100, 101, 100, 101)], then=100)
    [p] = eng.pending_proposals()  # the approval mode applies to limit orders too
    assert (p.order_type, p.limit_price) == ("limit", Decimal("99"))
    await eng.approve(p.id or 0, "alice")
    [o] = _orders(eng)
    assert (o.type, o.price, o.state) == ("limit", Decimal("99"), OrderState.OPEN)
    placed = clock.now()
    # the next candle stays above 99; the one after trades through it
    await _feed(eng, clock, [(100, 100.5, 99.5, 100), (100, 100, 98.5, 99.5),
                             (99.5, 100, 99.5, 100)])
    [o] = _orders(eng)
    assert o.state == OrderState.FILLED and o.average_price == Decimal("99")
    [t] = _trades(eng)
    assert t.is_open and t.open_price == Decimal("99") and t.open_at == placed
    assert o.trade_id == t.id
    await eng.close()
    eng.sessions.engine.dispose()


async def test_unfilled_timeout_cancels_and_keeps_a_partial_fill(tmp_path: Path, db_url: str,
                                                                 clock: ManualClock) -> None:
    eng = await _engine(tmp_path, db_url, clock, "OrderProbe", broker=HalfFill)
    # entry signal, order at 99; half fills on the next candle; the one after does not
    # reach 99 again and the 10-minute time-out cancels the rest at its close
    await _feed(eng, clock, [(100, 100, 100, 100), (100, 101, 100, 101),
                             (100, 100, 98.5, 99.5), (100, 101, 99.5, 100.5),
                             (100.5, 101, 99.5, 100.5)])
    [o] = _orders(eng)
    assert o.state == OrderState.CANCELED and o.filled == o.amount / 2
    [t] = _trades(eng)
    assert t.is_open and t.amount == o.filled and t.open_price == Decimal("99")
    with eng.sessions() as s:
        [p] = s.exec(select(Proposal)).all()
    assert p.state == ProposalState.EXECUTED  # what filled was executed
    assert eng.strategies.flow.timed_out["entry"] == 1
    await eng.close()
    eng.sessions.engine.dispose()


async def test_a_safety_order_and_a_partial_exit_through_proposals(
        tmp_path: Path, db_url: str, clock: ManualClock) -> None:
    eng = await _engine(tmp_path, db_url, clock, "DcaProbe")
    rows = [(100, 100, 100, 100), (100, 101, 100, 101),  # enter at the next open, 100
            (100, 100, 96, 96),  # closes at -4 %: a safety order of 50 at the next open, 96
            (96, 96, 96, 96), (96, 104, 96, 104),  # +5 % on the average: sell half at 104
            (104, 104, 104, 104), (104, 109, 104, 109),  # exit signal: the rest at 109
            (109, 109, 109, 109)]
    await _feed(eng, clock, rows)
    orders = _orders(eng)
    with eng.sessions() as s:
        tags = [s.get(Proposal, o.proposal_id).reasons[0] for o in orders]  # type: ignore[union-attr]
    assert tags == ["enter_long", "safety", "take_half", "exit_signal"]
    [t] = _trades(eng)
    assert {o.trade_id for o in orders} == {t.id}  # every order of the trade is stored
    amounts = [o.filled for o in orders]
    assert [o.average_price for o in orders] == [Decimal(100), Decimal(96), Decimal(104),
                                                 Decimal(109)]
    bought = amounts[0] + amounts[1]
    assert abs(amounts[2] + amounts[3] - bought) < Decimal("1e-12")
    # Freqtrade's averaged open rate: (100 + 50) / (1 + 50/96) units
    avg = 150 / (1 + 50 / 96)
    assert abs(float(t.open_price) - avg) < 1e-9
    assert not t.is_open and t.exit_reason == "exit_signal"
    # realised profit: half at 104, the rest at 109, both against the average
    half = float(amounts[2])
    want = half * (104 - avg) + float(amounts[3]) * (109 - avg)
    assert abs(float(t.realized_pnl or 0) - want) < 1e-6
    await eng.close()
    eng.sessions.engine.dispose()



async def test_a_partial_exit_of_the_whole_stake_sells_what_the_wallet_holds(
        tmp_path: Path, db_url: str, clock: ManualClock) -> None:
    """adjust_trade_position selling the whole stake closes the trade (the backtester's
    rule) even where the float sum of the fills (1 + 50/96 = 1.5208333333333335) lies
    above the exact holding the wallet booked (1.5208333333333334): the broker would
    refuse to sell more than is held and the trade would stay open."""
    eng = await _engine(tmp_path, db_url, clock, "SellAllProbe")
    await _feed(eng, clock, DCA_ROWS)
    orders = _orders(eng)
    with eng.sessions() as s:
        tags = [s.get(Proposal, o.proposal_id).reasons[0] for o in orders]  # type: ignore[union-attr]
    assert tags == ["enter_long", "safety", "sell_all"]
    assert [o.state for o in orders] == [OrderState.FILLED] * 3
    assert orders[2].filled == orders[0].filled + orders[1].filled
    [t] = _trades(eng)
    assert not t.is_open and t.exit_reason == "sell_all"
    await eng.close()
    eng.sessions.engine.dispose()


DCA_ROWS = [(100, 100, 100, 100), (100, 101, 100, 101), (100, 100, 96, 96), (96, 96, 96, 96),
            (96, 104, 96, 104), (104, 104, 104, 104), (104, 109, 104, 109), (109, 109, 109, 109)]


async def test_a_restart_mid_trade_rebuilds_it_from_its_orders(tmp_path: Path,
                                                              clock: ManualClock) -> None:
    """The order path keeps nothing that the database does not: an engine restarted
    after the safety order finishes the trade as an uninterrupted one does."""
    from engine.storage.migrate import upgrade

    got = []
    for cut in (None, 4):
        url = f"sqlite:///{tmp_path / f'r{cut}.db'}"
        upgrade(url)
        c = ManualClock(clock.now())
        eng = await _engine(tmp_path, url, c, "DcaProbe")
        if cut is not None:
            await _feed(eng, c, DCA_ROWS[:cut], then=DCA_ROWS[cut][0])
            await eng.close()
            eng.sessions.engine.dispose()
            eng = await _engine(tmp_path, url, c, "DcaProbe")
            await _feed(eng, c, DCA_ROWS[cut:])
        else:
            await _feed(eng, c, DCA_ROWS)
        [t] = _trades(eng)
        got.append(([(o.side, o.filled, o.average_price) for o in _orders(eng)],
                    (t.open_price, t.amount, t.realized_pnl, t.exit_reason, t.open_at)))
        await eng.close()
        eng.sessions.engine.dispose()
    assert len(got[0][0]) == 4 and got[0] == got[1]
