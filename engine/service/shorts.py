"""Shorts and leverage in the per-candle trading path (``[exchange] trading_mode =
"futures"``).

`engine.service.trading.StrategyLoop` stays the one candle path; in futures mode it asks
here instead of its spot rules:

- `decide`: an entry is ``enter_long`` or ``enter_short`` (``can_short`` strategies; a
  row with both, or with the direction's own exit, enters nothing, as in the backtester);
  a held long exits on ``exit_long``, a held short on ``exit_short``. The strategy's
  ``leverage`` callback (Freqtrade's signature) runs at the decision, with the bot's
  configured leverage (``[exchange] leverage``) proposed and the exchange bracket's
  maximum as ``max_leverage``; its answer travels in the decision's inputs.
- `entry_intent`: the risk check's `Intent`: buy for a long, SELL for a short, the size
  ``stake * leverage / price`` (the stake is the margin, as in the backtester), leverage
  attached so `check_leverage` refuses anything above ``[risk] max_leverage`` with the
  reason, and `check_funds` asks for the margin, not the notional.
- `exit_intent`: closing a short buys; a futures exit needs no funds.
- `prepare`: before the order goes out, the broker's leverage and margin mode for the
  symbol are set (paper: in memory; live: ccxt ``set_margin_mode`` / ``set_leverage``).
- `on_bar`: each candle settles due funding and watches liquidation (paper futures
  broker), or raises the liquidation-distance alert from the stored liquidation price
  (live).

Spot mode never calls any of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from engine.data.candles import Bar
from engine.events import record
from engine.execution.broker import MarketInfo
from engine.execution.paper import QuoteSource
from engine.execution.paper_futures import PaperFuturesBroker
from engine.margin.funding import FundingRates
from engine.margin.tiers import BINANCE_BTCUSDT
from engine.risk.checks import Intent
from engine.risk.margin_watch import near_liquidation
from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.storage.models import Bot, BotState, Trade
from engine.strategy.interface import StrategyError, call_strategy
from engine.strategy.runtime import RowSignal, StrategyRuntime

if TYPE_CHECKING:
    from engine.clock import Clock

log = logging.getLogger("sentitrade.shorts")


@dataclass(frozen=True, slots=True)
class FuturesDecision:
    direction: str  # long | short | exit
    reasons: tuple[str, ...]
    inputs: dict[str, Any]
    stake_scale: float = 1.0


def futures_mode(settings: Settings) -> bool:
    return settings.exchange.trading_mode == "futures"


def paper_broker(sessions: SessionFactory, quotes: QuoteSource, clock: Clock,
                 settings: Settings) -> PaperFuturesBroker:
    """The paper futures broker the settings describe."""
    ex = settings.exchange
    return PaperFuturesBroker(sessions, quotes, clock, maker_fee=ex.maker_fee,
                              taker_fee=ex.taker_fee, slippage_bps=ex.slippage_bps,
                              leverage=Decimal(str(ex.leverage)),
                              funding=FundingRates(ex.funding_rate),
                              alert_pct=ex.liquidation_alert_pct)


def _leverage(rt: StrategyRuntime, bar: Bar, side: str, tag: str | None,
              settings: Settings) -> float:
    proposed = float(settings.exchange.leverage)
    v = call_strategy(rt.strategy, "leverage", pair=bar.symbol, current_time=bar.ts,
                      current_rate=float(bar.close), proposed_leverage=proposed,
                      max_leverage=float(BINANCE_BTCUSDT[0].max_leverage), entry_tag=tag,
                      side=side)
    try:
        return float(v)
    except (TypeError, ValueError) as e:
        raise StrategyError(f"{rt.strategy.name}.leverage returned {v!r}, not a number") from e


def decide(rt: StrategyRuntime, sig: RowSignal, trade: Trade | None, bot: Bot, bar: Bar,
           settings: Settings, why: Callable[[str, str, RowSignal], str]) -> FuturesDecision | None:
    """The futures twin of `StrategyLoop._decide` (see the module doc)."""
    name = rt.strategy.name
    if trade is None:
        if bot.state != BotState.RUNNING:
            return None
        if sig.enter_long and not (sig.exit_long or sig.enter_short):
            side, tag = "long", sig.enter_tag or "enter_long"
        elif (rt.strategy.can_short and sig.enter_short
              and not (sig.exit_short or sig.enter_long)):
            side, tag = "short", sig.enter_tag or "enter_short"
        else:
            return None
        lev = _leverage(rt, bar, side, sig.enter_tag, settings)
        return FuturesDecision(side, (tag, why(name, f"{side} entry", sig)),
                               {**sig.inputs, "leverage": lev}, sig.stake_scale)
    if trade.side == "short":
        if sig.exit_short and not sig.enter_short:
            return FuturesDecision("exit", (sig.exit_tag, why(name, "short exit", sig)),
                                   sig.inputs)
        return None
    if sig.exit_long and not sig.enter_long:
        return FuturesDecision("exit", (sig.exit_tag, why(name, "exit", sig)), sig.inputs)
    return None


def entry_intent(spot: Intent, direction: str, inputs: dict[str, Any],
                 market: MarketInfo | None, settings: Settings) -> Intent:
    """The entry as risk sees it: `spot` (a buy of stake / price) unchanged on spot; on
    futures the side of the direction, the size times the leverage, the leverage."""
    if not futures_mode(settings):
        return spot
    side = "buy" if direction == "long" else "sell"
    lev = Decimal(str(inputs.get("leverage", 1.0)))
    amount = spot.amount * max(lev, Decimal(1))
    if market is not None:
        amount = market.round_amount(amount)
    return replace(spot, side=side, amount=amount, leverage=lev, futures=True)


def exit_intent(spot: Intent, trade: Trade) -> Intent:
    """Closing a short buys; a futures exit needs no funds (it frees margin)."""
    if trade.trading_mode != "futures":
        return spot
    return replace(spot, side="buy" if trade.side == "short" else "sell", futures=True)


async def prepare(broker: Any, symbol: str, inputs: dict[str, Any], settings: Settings) -> None:
    """Leverage and margin mode on the account before an entry order (no-op on spot or
    with a broker that has no such settings)."""
    if not futures_mode(settings) or "leverage" not in inputs:
        return
    lev = Decimal(str(inputs["leverage"]))
    setup = getattr(broker, "setup_symbol", None)
    if setup is not None:  # ccxt: network calls
        await setup(symbol, lev, settings.exchange.margin_mode)
        return
    if isinstance(broker, PaperFuturesBroker):
        broker.set_margin_mode(symbol, settings.exchange.margin_mode)
        broker.set_leverage(symbol, lev)


def on_bar(broker: Any, sessions: SessionFactory, settings: Settings, bar: Bar) -> list[str]:
    """Funding and liquidation each candle (futures only); returns what happened."""
    if not futures_mode(settings):
        return []
    if isinstance(broker, PaperFuturesBroker):
        broker.settle_funding(bar.ts)
        return broker.watch(bar.symbol, Decimal(repr(bar.close)), Decimal(repr(bar.low)),
                            Decimal(repr(bar.high)), bar.ts)
    notes: list[str] = []
    mark = Decimal(repr(bar.close))
    with sessions.begin() as s:
        for t in s.exec(select(Trade).where(col(Trade.is_open).is_(True),
                                            Trade.symbol == bar.symbol,
                                            Trade.trading_mode == "futures")).all():
            ev = near_liquidation(t, mark, settings.exchange.liquidation_alert_pct, bar.ts)
            if ev is not None and record(s, ev) is not None:
                notes.append(ev.text())
    return notes
