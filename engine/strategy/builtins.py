"""The built-in strategies. Each is an ordinary `Strategy`: what backtests and
hyperopts here is what the live engine runs (see `engine.strategy.runtime`).

Sentiment arrives as frame columns computed by the one point-in-time aggregation
(`sentiment.pointintime`): ``sentiment`` (NaN without news), ``sentiment_confidence``,
``news_count``, ``news_impact`` and ``event_*`` counts per event type.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.strategy.interface import (
    BooleanParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    NewsEvent,
    Strategy,
    crossed_above,
    crossed_below,
    shift,
)


def _nan0(a: Any) -> Any:
    """NaN -> 0 (no news reads as neutral), cheaper than `np.nan_to_num`."""
    x = np.asarray(a, dtype=np.float64)
    return np.where(np.isnan(x), 0.0, x)


class EmaRsiCross(Strategy):
    """The reference strategy (../shared/data/reference/README.md), long only.

    entry: EMA12 crosses above EMA26, RSI14 < 70, volume > 0; exit: EMA12 crosses below.
    """

    name = "ema_rsi_cross"
    stoploss = -0.10
    fast = IntParameter(5, 30, default=12, space="buy")
    slow = IntParameter(15, 60, default=26, space="buy")
    rsi_period = IntParameter(7, 21, default=14, space="buy")
    rsi_max = DecimalParameter(50.0, 90.0, default=70.0, decimals=1, space="buy")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import ema, rsi

        frame["ema_fast"] = ema(frame["close"], int(self.fast))
        frame["ema_slow"] = ema(frame["close"], int(self.slow))
        frame["rsi"] = rsi(frame["close"], int(self.rsi_period))
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        f, s = frame["ema_fast"], frame["ema_slow"]
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (
                crossed_above(f, s) & (frame["rsi"] < float(self.rsi_max)) & (frame["volume"] > 0)
            )
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame["exit_long"] = crossed_below(frame["ema_fast"], frame["ema_slow"])
        frame["exit_tag"] = "ema_cross_down"
        return frame


class EmaRsiTrail(EmaRsiCross):
    """The reference's EmaRsiTrail (../shared/data/reference/strategies/EmaRsiTrail.py):
    EmaRsiCross's signals with a LIMIT entry at 0.998 x the proposed rate (cancelled
    after 10 minutes unfilled), limit exits, a ROI table and a trailing stop 1 % below
    the high once the profit reached 2 %."""

    name = "ema_rsi_trail"
    stoploss = -0.05
    minimal_roi = {0: 0.04, 30: 0.02, 120: 0.01, 360: 0.0}  # noqa: RUF012 (Freqtrade's shape)
    trailing_stop = True
    trailing_stop_positive = 0.01
    trailing_stop_positive_offset = 0.02
    trailing_only_offset_is_reached = True
    order_types = {  # noqa: RUF012
        "entry": "limit", "exit": "limit", "stoploss": "market", "stoploss_on_exchange": False,
    }
    unfilledtimeout = {"entry": 10, "exit": 10, "unit": "minutes"}  # noqa: RUF012
    entry_discount = DecimalParameter(0.99, 1.0, default=0.998, decimals=4, space="buy")

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame = super().populate_entry_trend(frame, metadata)
        frame["enter_tag"] = "ema_cross_up"
        return frame

    def custom_entry_price(self, pair: str, trade: Any, current_time: Any,
                           proposed_rate: float, entry_tag: str | None, side: str,
                           **kwargs: Any) -> float:
        return proposed_rate * float(self.entry_discount)


class EmaRsiDca(EmaRsiCross):
    """The reference's EmaRsiDca (../shared/data/reference/strategies/EmaRsiDca.py):
    EmaRsiCross's signals, market orders, stop -10 %, and position adjustment: once per
    trade above +3 % profit sell half the stake (``take_half``); below -2 % x filled
    entries, at most two safety orders of the first stake x (1 + 0.5 x filled entries)
    (``safety``)."""

    name = "ema_rsi_dca"
    stoploss = -0.10
    position_adjustment_enable = True
    max_entry_position_adjustment = 2
    take_profit = DecimalParameter(0.01, 0.10, default=0.03, decimals=3, space="sell")
    safety_step = DecimalParameter(0.005, 0.10, default=0.02, decimals=3, space="buy")

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame = super().populate_entry_trend(frame, metadata)
        frame["enter_tag"] = "ema_cross_up"
        return frame

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, min_stake: float | None,
                              max_stake: float, current_entry_rate: float,
                              current_exit_rate: float, current_entry_profit: float,
                              current_exit_profit: float, **kwargs: Any) -> Any:
        if trade.has_open_orders:
            return None
        if current_profit > float(self.take_profit) and trade.nr_of_successful_exits == 0:
            return -(trade.stake_amount / 2), "take_half"
        count = trade.nr_of_successful_entries
        if (current_profit < -float(self.safety_step) * count
                and count <= self.max_entry_position_adjustment):
            filled = trade.select_filled_orders(trade.entry_side)
            return filled[0].stake_amount_filled * (1 + 0.5 * count), "safety"
        return None


class SentimentMomentum(Strategy):
    """Enter with the news: sentiment beyond a threshold, RSI not stretched; the stake is
    scaled by the sentiment's confidence; exit when sentiment reverses (or the stop)."""

    name = "sentiment_momentum"
    stoploss = -0.05
    can_short = True
    threshold = DecimalParameter(0.05, 0.9, default=0.3, decimals=2, space="buy")
    rsi_period = IntParameter(7, 21, default=14, space="buy")
    rsi_long_max = DecimalParameter(50.0, 90.0, default=70.0, decimals=1, space="buy")
    rsi_short_min = DecimalParameter(10.0, 50.0, default=30.0, decimals=1, space="buy")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import rsi

        frame["rsi"] = rsi(frame["close"], int(self.rsi_period))
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        s = _nan0(frame["sentiment"])
        r = frame["rsi"]
        thr = float(self.threshold)
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (s > thr) & (r < float(self.rsi_long_max)) & (frame["volume"] > 0)
            frame["enter_short"] = (
                (s < -thr) & (r > float(self.rsi_short_min)) & (frame["volume"] > 0)
            )
        conf = np.asarray(frame.get("sentiment_confidence", np.ones(frame.n)), dtype=np.float64)
        frame["stake_scale"] = np.clip(_nan0(conf), 0.0, 1.0)
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        s = _nan0(frame["sentiment"])
        frame["exit_long"] = s < 0.0
        frame["exit_short"] = s > 0.0
        frame["exit_tag"] = "sentiment_reversal"
        return frame


@njit(cache=True, nogil=True)
def _fuse(ema_f, ema_s, rsi, sent, news_count, spread_scale, rsi_ob, tw, sw,
          tech, fused, conf):  # pragma: no cover (compiled)
    """technical, fused and confidence in one pass (the fusion's rules, per candle)."""
    for i in range(ema_f.shape[0]):
        if ema_s[i] != ema_s[i] or rsi[i] != rsi[i]:
            t = np.nan
        else:
            t = np.tanh((ema_f[i] / ema_s[i] - 1.0) * 100.0 / spread_scale)
            if rsi[i] > rsi_ob:
                t -= 0.3
            t = min(1.0, max(-1.0, t))
        tech[i] = t
        s = sent[i]
        if s == s:
            fused[i] = tw * t + sw * s
            agree = (t >= 0.0) == (s >= 0.0)
            c = 0.5 + 0.1 * min(news_count[i], 3.0) + (0.2 if agree else -0.1)
            conf[i] = min(1.0, c)
        else:
            fused[i] = t
            conf[i] = 0.5


class SentimentFusion(Strategy):
    """The engine's original fusion as a strategy (the default bot strategy).

    technical = tanh(EMA spread % / spread_scale), minus 0.3 when RSI is overbought;
    fused = tech_weight * technical + sentiment_weight * sentiment (technical alone
    without news). Enter when fused crosses up through ``entry_threshold``; exit when it
    falls to ``-exit_threshold``, or (``event_exit``) when a hack/exploit headline about
    the pair arrived inside the event window.
    """

    name = "sentiment_fusion"
    stoploss = -0.05
    startup_candle_count = 60
    ema_fast = IntParameter(5, 30, default=12, space="buy")
    ema_slow = IntParameter(15, 60, default=26, space="buy")
    rsi_period = IntParameter(7, 21, default=14, space="buy")
    rsi_overbought = DecimalParameter(60.0, 90.0, default=75.0, decimals=1, space="buy")
    spread_scale = DecimalParameter(0.05, 1.0, default=0.3, decimals=2, space="buy")
    tech_weight = DecimalParameter(0.0, 1.0, default=0.6, decimals=2, space="buy")
    sentiment_weight = DecimalParameter(0.0, 1.0, default=0.4, decimals=2, space="buy")
    entry_threshold = DecimalParameter(0.05, 0.9, default=0.35, decimals=2, space="buy")
    exit_threshold = DecimalParameter(0.05, 0.9, default=0.25, decimals=2, space="sell")
    event_exit = BooleanParameter(default=True, space="sell")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import atr, ema, rsi

        close = frame["close"]
        frame["atr"] = atr(frame["high"], frame["low"], close, 14)  # for ATR sizing
        frame["ema_fast"] = ema(close, int(self.ema_fast))
        frame["ema_slow"] = ema(close, int(self.ema_slow))
        frame["rsi"] = rsi(close, int(self.rsi_period))
        n = frame.n
        tech, fused, conf = np.empty(n), np.empty(n), np.empty(n)
        _fuse(frame["ema_fast"], frame["ema_slow"], frame["rsi"],
              np.asarray(frame["sentiment"], dtype=np.float64),
              np.asarray(frame["news_count"], dtype=np.float64), float(self.spread_scale),
              float(self.rsi_overbought), float(self.tech_weight),
              float(self.sentiment_weight), tech, fused, conf)
        frame["technical"] = tech
        frame["fused"] = fused
        frame["confidence"] = conf
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        fused = frame["fused"]
        prev = shift(fused)
        prev[np.isnan(prev)] = 0.0
        thr = float(self.entry_threshold)
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (fused >= thr) & (prev < thr) & (frame["volume"] > 0)
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        with np.errstate(invalid="ignore"):
            weak = frame["fused"] <= -float(self.exit_threshold)
        hack = np.asarray(frame["event_hack"]) > 0
        if not bool(self.event_exit):
            hack = np.zeros(frame.n, dtype=np.bool_)
        frame["exit_long"] = weak | hack
        frame["exit_tag"] = np.where(hack & ~weak, "event_hack", "fusion_exit")
        return frame


class NewsMomentum(Strategy):
    """React to a high-impact headline when it arrives (research document): enter when a
    headline of impact >= ``impact_min`` became available during the candle, the
    aggregate sentiment is beyond ``threshold`` and RSI confirms the move; the stake is
    scaled by the sentiment's confidence. Exits: ROI table, stop, or sentiment turning.

    Live, `on_news` lets the engine act between candles on the same rule.
    """

    name = "news_momentum"
    stoploss = -0.04
    minimal_roi = {0: 0.03, 60: 0.015, 240: 0.0}  # noqa: RUF012 (Freqtrade's shape)
    startup_candle_count = 30
    impact_min = IntParameter(3, 10, default=6, space="buy")
    threshold = DecimalParameter(0.05, 0.9, default=0.3, decimals=2, space="buy")
    rsi_period = IntParameter(7, 21, default=14, space="buy")
    rsi_min = DecimalParameter(30.0, 60.0, default=45.0, decimals=1, space="buy")
    rsi_max = DecimalParameter(60.0, 90.0, default=75.0, decimals=1, space="buy")
    exit_below = DecimalParameter(-0.5, 0.3, default=0.0, decimals=2, space="sell")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import rsi

        frame["rsi"] = rsi(frame["close"], int(self.rsi_period))
        return frame

    def news_ok(self, impact: float, sentiment: float, rsi_value: float) -> bool:
        """The entry rule on one instant (shared by the columns and `on_news`)."""
        return bool(impact >= int(self.impact_min) and sentiment >= float(self.threshold)
                    and float(self.rsi_min) < rsi_value < float(self.rsi_max))

    def on_news(self, event: NewsEvent, last: dict[str, float]) -> bool:
        """The same rule on the headline that just arrived and the last candle's RSI."""
        s = event.sentiment if event.sentiment == event.sentiment else 0.0
        return self.news_ok(float(event.impact), s, float(last.get("rsi", float("nan"))))

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        s = _nan0(frame["sentiment"])
        r = frame["rsi"]
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (
                (frame["news_impact"] >= int(self.impact_min)) & (s >= float(self.threshold))
                & (r > float(self.rsi_min)) & (r < float(self.rsi_max)) & (frame["volume"] > 0)
            )
        conf = _nan0(frame["sentiment_confidence"])
        frame["stake_scale"] = np.clip(conf, 0.25, 1.0)
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        s = np.asarray(frame["sentiment"], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            frame["exit_long"] = s < float(self.exit_below)
        frame["exit_tag"] = "sentiment_turned"
        return frame


BUILTINS: dict[str, type[Strategy]] = {
    c.name: c
    for c in (EmaRsiCross, EmaRsiTrail, EmaRsiDca, SentimentMomentum, SentimentFusion,
              NewsMomentum)
}

# the strategy families (engine.strategy.families) import this module's interface only
from engine.strategy.families import FAMILIES  # noqa: E402

BUILTINS.update(FAMILIES)

from engine.strategy.families_orders import FAMILY_ORDERS  # noqa: E402

BUILTINS.update(FAMILY_ORDERS)
