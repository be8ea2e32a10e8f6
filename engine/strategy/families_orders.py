"""The strategy families that trade through Freqtrade's order hooks (limit entries,
``unfilledtimeout``, ``adjust_trade_position``): the grid bot (`engine.strategy.grid`)
and the 3Commas-style DCA bot (`engine.strategy.dca`). They run in the order-level
backtest (`engine.backtest.orders`) and, with the same hooks, live.

Portfolio rebalancing is not a per-pair strategy (it needs the whole basket at once):
see `engine.portfolio.rebalance` and `engine.backtest.rebalance`."""

from __future__ import annotations

from engine.strategy.dca import DcaBot
from engine.strategy.grid import Grid
from engine.strategy.interface import Strategy

FAMILY_ORDERS: dict[str, type[Strategy]] = {c.name: c for c in (Grid, DcaBot)}
