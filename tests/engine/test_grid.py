"""The grid bot on constructed candles where every order is known: arithmetic lines,
one lot per crossed line, gaps, the whole-grid stop, trailing up, the infinity grid,
and a restart (a fresh instance, orders without tags) changing no decision."""

from __future__ import annotations

from typing import Any

import pytest

from engine.backtest import run_backtest
from engine.strategy.grid import Grid, grid_lines, start_line
from engine.strategy.trade import Order, Trade
from tests.backtest.helpers import candles


def _run(strat: Grid, o: Any, h: Any, lo: Any, **kw: Any) -> Any:
    c = candles("X/USDT", o, h=h, lo=lo)
    return run_backtest({"X/USDT": c}, strat, stake=1000.0, fee=0.0, wallet=100_000.0, **kw)


def _orders(res: Any) -> list[tuple[str, str, float, float]]:
    return [(r["side"], r["tag"], round(float(r["amount"]), 9), float(r["price"]))
            for r in res.orders]


def _grid(**p: Any) -> Grid:
    return Grid().set_params(**{"levels": 4, "lower_pct": 0.1, "upper_pct": 0.1, **p})  # type: ignore[return-value]


def test_arithmetic_lines_and_the_start() -> None:
    ln = grid_lines("arithmetic", 100.0, 0.1, 0.1, 4)
    assert [ln.line(i) for i in range(5)] == [90.0, 95.0, 100.0, 105.0, 110.0]
    assert start_line("arithmetic", 0.1, 0.1, 4) == 2  # holds 2 lots: 105 and 110
    g = grid_lines("geometric", 100.0, 0.1, 0.1, 4)
    assert g.line(4) == pytest.approx(110.0) and g.line(1) / g.line(0) == pytest.approx(
        g.line(4) / g.line(3))


def test_a_grid_buys_each_line_down_and_sells_each_line_up() -> None:
    # start at 100 (lines 90 95 100 105 110): 2 lots of 2.5 (stake 1000 x 2/4)
    o = [100, 100, 99, 96, 101, 106, 111, 111]
    h = [100, 100.5, 99, 97, 102, 107, 112, 112]
    lo = [100, 99.5, 94, 95.5, 100.5, 105, 110, 110]
    res = _run(_grid(), o, h, lo)
    assert _orders(res) == [
        ("buy", "grid_arithmetic", 5.0, 100.0),  # the start, at the open
        ("buy", "grid_buy", 2.5, 95.0),     # candle 2 trades through 95 (limit)
        ("sell", "grid_sell", 2.5, 101.0),  # opened above 100: one lot at the open
        ("sell", "grid_sell", 2.5, 106.0),  # above 105
        ("sell", "grid_above_range", 2.5, 111.0),  # above 110: the last lot, grid ends
    ]
    assert len(res.trades) == 1 and res.trades.exit_reason[0] == "grid_above_range"
    assert res.trades.profit_abs[0] == pytest.approx(795.0 - 737.5)
    # the buy at 90 placed on candle 3 was good for that candle only
    assert res.metrics["timedout_entry_orders"] >= 1


def test_a_gap_down_buys_every_crossed_line_then_the_grid_stop_sells_all() -> None:
    o = [100, 100, 89, 85, 85]
    h = [100, 100.5, 89.5, 85.5, 85.5]
    lo = [100, 99.5, 88.5, 84.5, 84.5]
    res = _run(_grid(), o, h, lo)
    assert _orders(res) == [
        ("buy", "grid_arithmetic", 5.0, 100.0),
        ("buy", "grid_buy", 5.0, 89.0),  # lines 95 and 90 crossed: two lots at the open
        ("sell", "grid_stop_loss", 10.0, 85.0),  # below 90 x (1 - 0.05) = 85.5
    ]


def test_trailing_up_moves_the_grid_one_line_at_a_time() -> None:
    o = [100, 100, 106, 111, 111, 116, 116]
    h = [x + 0.5 for x in o]
    lo = [x - 0.5 for x in o]
    res = _run(_grid(trailing_up=True), o, h, lo)
    assert _orders(res)[:5] == [
        ("buy", "grid_arithmetic", 5.0, 100.0),
        ("sell", "grid_sell", 2.5, 106.0),
        ("buy", "grid_trail", 2.5, 111.0),  # the top reached: the grid moves up a line
        ("sell", "grid_sell", 2.5, 111.0),  # ...and the lot of the old top line sells
        ("buy", "grid_trail", 2.5, 116.0),  # 115, the new top: up again
    ]


def test_infinity_sells_a_fixed_quote_value_per_line_up() -> None:
    s = _grid(grid_type="infinity", take_profit=1.0)
    ln = grid_lines("infinity", 100.0, 0.1, 0.1, 4)
    k0 = start_line("infinity", 0.1, 0.1, 4)
    value = 500.0 * (ln.step - 1)  # the start position's value x one step
    up1, up2 = ln.line(k0 + 1), ln.line(k0 + 2)
    o = [100, 100, up1 + 0.5, up2 + 0.5, up2 + 0.5, 200.0, 200.0]
    h = [x + 0.2 for x in o]
    lo = [x - 0.2 for x in o]
    res = _run(s, o, h, lo)
    rows = res.orders
    assert [r["side"] for r in rows[:3]] == ["buy", "sell", "sell"]
    for r, px in zip(rows[1:3], (up1 + 0.5, up2 + 0.5), strict=True):
        assert float(r["price"]) == px
        assert float(r["amount"]) * px == pytest.approx(value)
    # no upper bound: far above, it sells one value per crossed line and keeps selling
    big = rows[3]
    crossed = sum(1 for i in range(k0 + 3, 200) if ln.line(i) <= 200.0)
    assert big["side"] == "sell" and float(big["amount"]) * 200.0 == pytest.approx(
        crossed * value)


def _rebuilt(trade: Trade) -> Trade:
    """The trade as a restart reads it back: orders with side, amount and price only."""
    t = Trade(pair=trade.pair, open_ms=trade.open_ms, fee=trade.fee, enter_tag="",
              tick=trade.tick)
    for o in trade.orders:
        new = Order(o.side, o.is_entry, "", o.amount, o.price, o.placed_ms, o.order_type,
                    o.fee)
        t.orders.append(new)
        if o.filled_ms is not None:
            t.fill(new, o.filled_ms)
    return t


class Restarting(Grid):
    """Every decision by a freshly created grid on the rebuilt trade: a restart before
    every candle."""

    name = "grid_restarting"

    def _fresh(self) -> Grid:
        return Grid().set_params(**{k: getattr(self, k) for k in self.parameters()})  # type: ignore[return-value]

    def adjust_trade_position(self, trade: Any, *a: Any, **k: Any) -> Any:
        return self._fresh().adjust_trade_position(_rebuilt(trade), *a, **k)

    def custom_entry_price(self, pair: str, trade: Any, *a: Any, **k: Any) -> float:
        return self._fresh().custom_entry_price(
            pair, None if trade is None else _rebuilt(trade), *a, **k)


@pytest.mark.parametrize("params", [
    {}, {"grid_type": "geometric", "trailing_up": True}, {"grid_type": "infinity"}])
def test_a_restart_before_every_candle_changes_no_order(params: dict[str, Any]) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    i = np.arange(600)
    close = 100 * (1 + 0.12 * np.sin(i / 25) + 0.002 * i / 60) * np.exp(
        rng.normal(0, 0.004, 600))
    o = np.concatenate([[100.0], close[:-1]])
    h = np.maximum(o, close) * 1.004
    lo = np.minimum(o, close) * 0.996
    a = _run(_grid(**params), list(o), list(h), list(lo))
    b = _run(Restarting().set_params(levels=4, lower_pct=0.1, upper_pct=0.1, **params),  # type: ignore[arg-type]
             list(o), list(h), list(lo))
    assert len(a.orders) > 30 and len({r['tag'] for r in a.orders}) >= 3
    assert a.orders == b.orders
    assert list(a.trades.profit_abs) == list(b.trades.profit_abs)


def test_the_ranging_start_waits_for_a_ranging_or_quiet_market() -> None:
    import numpy as np

    from engine.signals.regime import QUIET, RANGING, regime_columns
    from engine.strategy.interface import Frame

    rng = np.random.default_rng(11)
    n = 1200
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n) + np.where(
        np.arange(n) < 600, 0.0, 0.001)))
    high, low = close * 1.001, close * 0.999
    f = Frame({"open": close, "high": high, "low": low, "close": close,
               "volume": np.ones(n)}, n=n)
    g = _grid(start="ranging")
    out = g.populate_entry_trend(g.populate_indicators(Frame(dict(f), n=n), {}), {})
    reg = regime_columns(high, low, close)["regime"]
    want = (reg == RANGING) | (reg == QUIET)
    assert 0 < want.sum() < n
    assert np.array_equal(out["enter_long"], want)
    assert out["stake_scale"][0] == 0.5  # the lots above the start: 2 of 4
