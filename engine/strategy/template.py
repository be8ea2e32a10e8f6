"""The text `sentitrade new-strategy` writes: a complete, working strategy to edit.

Why a template and not a blank class: a trader's first file should already backtest,
hyperopt and run, so every change they make is a change to something that works. Both
templates use the library's indicators and the point-in-time sentiment columns, and
declare hyperoptable parameters. The ``full`` template is also the example of
docs/strategies.md (a test keeps the two identical).
"""

from __future__ import annotations

import keyword
import string

TEMPLATES = ("minimal", "full")

_MINIMAL = '''\
"""${name}: EMA trend entries, vetoed by bad news. Written by `sentitrade new-strategy`."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.indicators import ema, rsi
from engine.strategy import (
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
    crossed_above,
    crossed_below,
)


class ${name}(Strategy):
    timeframe = "5m"
    stoploss = -0.08

    fast = IntParameter(5, 30, default=12, space="buy")
    slow = IntParameter(20, 80, default=26, space="buy")
    min_sentiment = DecimalParameter(-0.5, 0.5, default=-0.1, decimals=2, space="buy")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame["ema_fast"] = ema(frame["close"], int(self.fast))
        frame["ema_slow"] = ema(frame["close"], int(self.slow))
        frame["rsi"] = rsi(frame["close"], 14)
        frame["mood"] = np.nan_to_num(frame["sentiment"], nan=0.0)  # no news: neutral
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        with np.errstate(invalid="ignore"):
            frame["enter_long"] = (
                crossed_above(frame["ema_fast"], frame["ema_slow"])
                & (frame["rsi"] < 70)
                & (frame["mood"] >= float(self.min_sentiment))
                & (frame["volume"] > 0)
            )
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        frame["exit_long"] = crossed_below(frame["ema_fast"], frame["ema_slow"])
        frame["exit_tag"] = "trend_down"
        return frame
'''

_FULL = '''\
"""${name}: trend entries confirmed by RSI and the news, sized by the news' confidence.

Written by `sentitrade new-strategy ${name} --template full`; edit freely. Backtest it:

    sentitrade backtest --strategy-path DIR --strategy ${name} --data CANDLES \\
        [--news HEADLINES.jsonl --news-delay 60]

Every populate_* gets a `Frame`: a dict of NumPy columns, one row per closed candle,
oldest first. Input columns are read-only: add new columns, never change them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.indicators import atr, bbands, ema, rsi
from engine.strategy import (
    BooleanParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    Strategy,
    crossed_above,
    crossed_below,
)


class ${name}(Strategy):
    # ---- settings (Freqtrade's names and meanings)
    timeframe = "5m"                # candle size the strategy is written for
    stoploss = -0.08                # exit at -8 % from the entry price
    minimal_roi = {0: 0.06, 120: 0.03, 480: 0.01}  # minutes held -> take profit
    trailing_stop = False           # True: the stop follows the price up
    trailing_stop_positive = None   # ... at this distance once the profit passes the offset
    trailing_stop_positive_offset = 0.0
    trailing_only_offset_is_reached = False
    can_short = False               # True: enter_short / exit_short are used too
    use_exit_signal = True          # False: only stoploss, ROI and trailing close trades
    startup_candle_count = 50       # candles the indicators need before they are valid
    order_type = "market"           # "limit": entries at the enter_limit column's price

    # ---- hyperoptable parameters (`sentitrade hyperopt` searches them)
    fast = IntParameter(5, 30, default=12, space="buy")
    slow = IntParameter(20, 80, default=26, space="buy")
    rsi_max = DecimalParameter(55.0, 85.0, default=70.0, decimals=1, space="buy")
    min_sentiment = DecimalParameter(-0.5, 0.5, default=-0.1, decimals=2, space="buy")
    bb_period = IntParameter(10, 40, default=20, space="buy", optimize=False)
    exit_sentiment = DecimalParameter(-0.9, 0.0, default=-0.4, decimals=2, space="sell")
    exit_on_hack = BooleanParameter(default=True, space="sell")

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        close = frame["close"]
        frame["ema_fast"] = ema(close, int(self.fast))
        frame["ema_slow"] = ema(close, int(self.slow))
        frame["rsi"] = rsi(close, 14)
        frame["atr"] = atr(frame["high"], frame["low"], close, 14)
        upper, middle, lower = bbands(close, int(self.bb_period), 2.0, 2.0)
        frame["bb_upper"], frame["bb_lower"] = upper, lower
        # sentiment is NaN while no headline is in the window: read that as neutral
        frame["mood"] = np.nan_to_num(frame["sentiment"], nan=0.0)
        return frame

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        has_news = frame["news_count"] > 0
        with np.errstate(invalid="ignore"):  # NaN warm-up rows compare as False
            trend_up = crossed_above(frame["ema_fast"], frame["ema_slow"])
            frame["enter_long"] = (
                trend_up
                & (frame["rsi"] < float(self.rsi_max))
                & (frame["close"] < frame["bb_upper"])    # not chasing a spike
                & (frame["mood"] >= float(self.min_sentiment))
                & (frame["volume"] > 0)
            )
            if self.can_short:
                frame["enter_short"] = (
                    crossed_below(frame["ema_fast"], frame["ema_slow"])
                    & (frame["mood"] <= -float(self.min_sentiment))
                    & (frame["volume"] > 0)
                )
        # full stake without news; with news, half to full by the news' confidence
        confidence = np.clip(frame["sentiment_confidence"], 0.0, 1.0)
        frame["stake_scale"] = np.where(has_news, 0.5 + 0.5 * confidence, 1.0)
        frame["enter_tag"] = np.where(has_news, "trend_news", "trend")
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        trend_down = crossed_below(frame["ema_fast"], frame["ema_slow"])
        bad_news = frame["mood"] <= float(self.exit_sentiment)
        hack = (frame["event_hack"] > 0) & bool(self.exit_on_hack)
        frame["exit_long"] = trend_down | bad_news | hack
        frame["exit_tag"] = np.where(hack, "hack_headline",
                                     np.where(bad_news, "bad_news", "trend_down"))
        if self.can_short:
            frame["exit_short"] = crossed_above(frame["ema_fast"], frame["ema_slow"])
        return frame
'''

_TEXT = {"minimal": _MINIMAL, "full": _FULL}


def class_name_problem(name: str) -> str | None:
    """Why `name` cannot be a strategy's class (and file) name, or None when it can.

    The file is ``NAME.py`` and the strategy folder skips files starting with ``_``,
    so the name must be an ASCII identifier that is not a keyword nor private."""
    if not name:
        return "the name is empty"
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        return (f"{name[:40]!r} is not a Python class name: use letters, digits and _, "
                "starting with a letter, e.g. MyStrategy")
    if name.startswith("_"):
        return f"{name!r} starts with _: files starting with _ are not loaded"
    if name == "Strategy":
        return "'Strategy' is the base class's name: pick another"
    return None


def render(name: str, template: str = "full") -> str:
    """The source of a new strategy class `name` from template `template`."""
    problem = class_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    if template not in _TEXT:
        raise ValueError(f"template {template!r}: one of {', '.join(TEMPLATES)}")
    return string.Template(_TEXT[template]).substitute(name=name)
