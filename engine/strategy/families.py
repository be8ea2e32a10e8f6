"""Strategy families built from `engine.signals`: multi-timeframe confirmation, regime
switching and pattern breakouts. Ordinary `Strategy` classes, so the backtester,
hyperopt, replay, paper and live run the same code (the runtime's trailing window is
at least 5 x ``startup_candle_count``, which each sets to cover its look-back)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.signals.chartpatterns import KINDS, PatternParams, pattern_columns
from engine.signals.filters import (
    MinConfidence,
    NoiseRatio,
    PatternStrength,
    SignalFilter,
    VolatilityAdjustment,
    VolumeConfirmation,
)
from engine.signals.mtf import confirmations, informative, trend_vote
from engine.signals.regime import QUIET, RANGING, TRENDING, VOLATILE, regime_columns
from engine.signals.windows import window_mean
from engine.strategy.interface import (
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
    crossed_above,
    crossed_below,
)


class MtfTrend(Strategy):
    """Enter on a base EMA cross up only when enough higher timeframes agree.

    Higher timeframes 1h and 4h, each voting +1 above a rising mean of its closes
    (`htf_period` candles), -1 below a falling one; votes weighted by freshness. Entry:
    EMA(fast) crosses above EMA(slow) with at least `min_tf_confirmations` bullish
    votes and a decayed score >= `min_score`. Exit: the cross down, or the higher
    timeframes turning (score <= -`min_score`)."""

    name = "mtf_trend"
    timeframe = "5m"
    stoploss = -0.05
    informative_timeframes = ("1h", "4h")
    plot_config: ClassVar[dict[str, Any]] = {
        "main_plot": {"ema_fast": {}, "ema_slow": {}},
        "subplots": {"higher timeframes": {"tf_score": {}, "tf_confirmations": {}}}}
    # 4h mean of up to 30 candles needs 30 * 48 base candles plus a partial bucket
    startup_candle_count = 1500
    fast = IntParameter(5, 30, default=12, space="buy")
    slow = IntParameter(20, 80, default=26, space="buy")
    htf_period = IntParameter(5, 30, default=20, space="buy")
    min_tf_confirmations = IntParameter(1, 2, default=2, space="buy")
    min_score = DecimalParameter(0.0, 1.0, default=0.5, decimals=2, space="buy")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import ema

        tf = str(metadata.get("timeframe") or self.timeframe)
        frame["ema_fast"] = ema(frame["close"], int(self.fast))
        frame["ema_slow"] = ema(frame["close"], int(self.slow))
        votes, ages, hls = [], [], []
        for htf in self.informative_timeframes:
            inf = informative(frame, tf, htf)
            vote = trend_vote(inf, int(self.htf_period))
            frame[f"vote_{htf}"] = vote
            votes.append(vote)
            ages.append(inf.age)
            hls.append(_ratio(tf, htf))
        up, score = confirmations(votes, ages, hls, 1)
        frame["tf_confirmations"] = up
        frame["tf_score"] = score
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (
                crossed_above(frame["ema_fast"], frame["ema_slow"])
                & (frame["tf_confirmations"] >= int(self.min_tf_confirmations))
                & (frame["tf_score"] >= float(self.min_score))
                & (frame["volume"] > 0))
        frame["enter_tag"] = "mtf_confirmed"
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        cross = crossed_below(frame["ema_fast"], frame["ema_slow"])
        turned = np.asarray(frame["tf_score"]) <= -float(self.min_score)
        frame["exit_long"] = cross | turned
        frame["exit_tag"] = np.where(cross, "ema_cross_down", "higher_tf_turned").astype(object)
        return frame


def _ratio(base: str, higher: str) -> float:
    from engine.data.candles import timeframe_ms

    return float(timeframe_ms(higher) // timeframe_ms(base))


class RegimeSwitch(Strategy):
    """Trades differently in each market regime (`engine.signals.regime`):
    trending -> buy pullbacks that resume above EMA(20) while EMA(20) > EMA(50);
    ranging -> buy RSI < `rsi_low` below the lower band (mean reversion);
    quiet -> buy a close above the upper band on volume (squeeze breakout);
    volatile -> no entries, and open trades exit.
    The stake follows the regime (`*_stake`), and exits are EMA(20) crossing below
    EMA(50), RSI above `rsi_exit`, or the market turning volatile."""

    name = "regime_switch"
    timeframe = "5m"
    stoploss = -0.04
    startup_candle_count = 400  # 288 candles of ATR/width history plus warm-up
    plot_config: ClassVar[dict[str, Any]] = {
        "main_plot": {"ema20": {}, "ema50": {}, "bb_upper": {}, "bb_lower": {}},
        "subplots": {"RSI": {"rsi": {}}, "regime (0 quiet .. 3 volatile)": {"regime": {}}}}
    rsi_low = DecimalParameter(15.0, 40.0, default=30.0, decimals=1, space="buy")
    rsi_exit = DecimalParameter(55.0, 85.0, default=70.0, decimals=1, space="sell")
    trend_stake = DecimalParameter(0.25, 1.0, default=1.0, decimals=2, space="buy")
    range_stake = DecimalParameter(0.1, 1.0, default=0.5, decimals=2, space="buy")
    quiet_stake = DecimalParameter(0.1, 1.0, default=0.75, decimals=2, space="buy")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        from engine.indicators import ema, rsi

        frame.update(regime_columns(frame["high"], frame["low"], frame["close"]))
        c = np.asarray(frame["close"], dtype=np.float64)
        frame["ema20"] = ema(c, 20)
        frame["ema50"] = ema(c, 50)
        frame["rsi"] = rsi(c, 14)
        mid = window_mean(c, 20)
        sq = window_mean(c * c, 20)
        with np.errstate(invalid="ignore"):
            sd = np.sqrt(np.maximum(sq - mid * mid, 0.0))
        frame["bb_mid"], frame["bb_upper"], frame["bb_lower"] = mid, mid + 2 * sd, mid - 2 * sd
        frame["vol_mean"] = window_mean(np.asarray(frame["volume"], dtype=np.float64), 20, lag=1)
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        reg = np.asarray(frame["regime"])
        c = np.asarray(frame["close"], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            trend = (reg == TRENDING) & crossed_above(c, frame["ema20"]) & (
                frame["ema20"] > frame["ema50"])
            rng = (reg == RANGING) & (frame["rsi"] < float(self.rsi_low)) & (
                c < frame["bb_lower"])
            quiet = (reg == QUIET) & crossed_above(c, frame["bb_upper"]) & (
                frame["volume"] > 1.5 * frame["vol_mean"])
        frame["enter_long"] = (trend | rng | quiet) & (frame["volume"] > 0)
        frame["stake_scale"] = np.where(trend, float(self.trend_stake), np.where(
            rng, float(self.range_stake), float(self.quiet_stake)))
        frame["enter_tag"] = np.where(trend, "trend", np.where(rng, "range", np.where(
            quiet, "squeeze", ""))).astype(object)
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        reg = np.asarray(frame["regime"])
        with np.errstate(invalid="ignore"):
            cross = crossed_below(frame["ema20"], frame["ema50"])
            hot = np.asarray(frame["rsi"]) > float(self.rsi_exit)
        wild = reg == VOLATILE
        frame["exit_long"] = cross | hot | wild
        frame["exit_tag"] = np.where(wild, "regime_volatile", np.where(
            hot, "rsi_high", "ema_cross_down")).astype(object)
        return frame


class PatternBreakout(Strategy):
    """Buys confirmed bullish chart patterns (double bottom, inverse head and shoulders,
    triangle breaks up, bull flags, resistance breaks) that pass the filter layers
    (confidence, strength, noise, volume, volatility-scaled stake); exits on a confirmed
    bearish pattern, the ROI table or the stop. The entry tag names the pattern."""

    name = "pattern_breakout"
    timeframe = "5m"
    stoploss = -0.03
    minimal_roi = {0: 0.04, 120: 0.02, 480: 0.0}  # noqa: RUF012 - Freqtrade's shape
    startup_candle_count = 300
    plot_config: ClassVar[dict[str, Any]] = {
        "subplots": {"patterns": {"pattern_signal": {}, "pattern_confidence": {}}}}
    min_confidence = DecimalParameter(0.3, 0.9, default=0.6, decimals=2, space="buy")
    min_strength = DecimalParameter(1.0, 8.0, default=2.0, decimals=1, space="buy")
    max_noise = DecimalParameter(0.5, 1.0, default=0.85, decimals=2, space="buy")
    volume_multiple = DecimalParameter(0.5, 3.0, default=1.2, decimals=1, space="buy")
    exit_confidence = DecimalParameter(0.3, 0.9, default=0.6, decimals=2, space="sell")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame.update(pattern_columns(frame["high"], frame["low"], frame["close"],
                                     frame["volume"], PatternParams()))
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame["enter_long"] = (np.asarray(frame["pattern_signal"]) > 0) & (frame["volume"] > 0)
        frame["stake_scale"] = np.ones(len(frame))
        SignalFilter(MinConfidence(float(self.min_confidence)),
                     PatternStrength(float(self.min_strength)),
                     NoiseRatio(float(self.max_noise)),
                     VolumeConfirmation(float(self.volume_multiple)),
                     VolatilityAdjustment()).apply(frame, "enter_long")
        kinds = np.asarray(frame["pattern_kind"]).astype(np.int64)
        names = np.array(["", *KINDS], dtype=object)
        frame["enter_tag"] = np.where(frame["enter_long"], names[kinds], "").astype(object)
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        bear = (np.asarray(frame["pattern_signal"]) < 0) & (
            np.asarray(frame["pattern_confidence"]) >= float(self.exit_confidence))
        frame["exit_long"] = bear
        kinds = np.asarray(frame["pattern_kind"]).astype(np.int64)
        names = np.array(["exit_signal", *KINDS], dtype=object)
        frame["exit_tag"] = names[np.where(bear, kinds, 0)]
        return frame


FAMILIES: dict[str, type[Strategy]] = {
    c.name: c for c in (MtfTrend, RegimeSwitch, PatternBreakout)
}
