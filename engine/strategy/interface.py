"""Freqtrade-style strategies on a columnar frame of NumPy arrays.

A strategy is a class with Freqtrade's attributes (``timeframe``, ``stoploss``,
``minimal_roi``, trailing settings, ``can_short``, ``startup_candle_count``) and the three
``populate_*`` methods. Instead of a pandas DataFrame they receive a `Frame`: a dict of
equal-length float/bool NumPy arrays (``open``, ``high``, ``low``, ``close``, ``volume``,
``date`` as open-time ms, ``close_time``; sentiment columns when a series was given).
Traders' code keeps its familiar shape (``frame["ema"] = ema(frame["close"], 12)``)
while the backtester stays free of pandas in its hot path.

Signal columns a strategy may write (missing ones mean "never"):
``enter_long``, ``exit_long``, ``enter_short``, ``exit_short`` (bool),
``enter_tag`` (int codes or a list of strings), ``stake_scale`` (float multiplier of
the stake, e.g. sentiment confidence), ``enter_limit`` (limit price; NaN = market).

User code runs through `call_strategy`, which turns any exception into
`StrategyError` naming the strategy and hook, so a broken strategy never surfaces as a
bare traceback from the engine (Freqtrade's ``strategy_wrapper``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from engine.errors import SentitradeError
from engine.strategy.dataprovider import OFFLINE, DataProvider

F64 = npt.NDArray[np.float64]
BoolA = npt.NDArray[np.bool_]

INTERFACE_VERSION = 3
SIGNAL_COLUMNS = ("enter_long", "exit_long", "enter_short", "exit_short")


class StrategyError(SentitradeError):
    """A strategy's own code failed or returned something unusable."""


@dataclass(frozen=True, slots=True)
class NewsEvent:
    """A headline as `Strategy.on_news` sees it."""

    symbol: str
    title: str
    published_ms: int
    score: float
    event_type: str
    impact: int
    sentiment: float  # the pair's aggregate now, this headline included (NaN: none)
    sentiment_confidence: float


class Frame(dict[str, Any]):
    """Columns of one pair's candles: name -> 1-D NumPy array of length `n`."""

    def __init__(self, columns: dict[str, Any] | None = None, *, n: int | None = None) -> None:
        super().__init__(columns or {})
        if n is None:
            n = len(next(iter(self.values()))) if self else 0
        self.n = n

    def __len__(self) -> int:  # len(frame) is the number of rows, as with a DataFrame
        return self.n

    def bool_column(self, name: str) -> BoolA:
        """A signal column as bool (missing -> all False, NaN -> False)."""
        if name not in self:
            return np.zeros(self.n, dtype=np.bool_)
        a = np.asarray(self[name])
        if a.shape != (self.n,):
            raise StrategyError(f"column {name!r} has shape {a.shape}, expected ({self.n},)")
        if a.dtype == np.bool_:
            return a
        f = a.astype(np.float64)
        return (f != 0.0) & ~np.isnan(f)


# ---------------------------------------------------------------- small helpers


def shift(a: Any, k: int = 1) -> F64:
    """``a`` shifted forward by ``k`` rows with NaN in front (pandas ``shift``)."""
    x = np.asarray(a, dtype=np.float64)
    out = np.full_like(x, np.nan)
    if k == 0:
        return x.copy()
    if k > 0:
        out[k:] = x[:-k]
    else:
        out[:k] = x[-k:]
    return out


def crossed_above(a: Any, b: Any) -> BoolA:
    """True where ``a`` goes from ``<= b`` to ``> b`` (qtpylib ``crossed_above``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    out = np.zeros(a.shape, dtype=np.bool_)
    out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def crossed_below(a: Any, b: Any) -> BoolA:
    """True where ``a`` goes from ``>= b`` to ``< b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    out = np.zeros(a.shape, dtype=np.bool_)
    out[1:] = (a[1:] < b[1:]) & (a[:-1] >= b[:-1])
    return out


# ---------------------------------------------------------------- hyperopt parameters


class BaseParameter:
    """A tunable value with a search space; reads as its current value on the instance."""

    kind: ClassVar[str] = "base"

    def __init__(self, default: Any, *, space: str = "buy", optimize: bool = True) -> None:
        if space not in ("buy", "sell", "protection", "roi", "stoploss", "trailing"):
            raise ValueError(f"unknown space {space!r}")
        self.default = default
        self.value = default
        self.space = space
        self.optimize = optimize
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(f"_p_{self.name}", self.default)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[f"_p_{self.name}"] = value


class IntParameter(BaseParameter):
    kind = "int"

    def __init__(
        self, low: int, high: int, *, default: int, space: str = "buy", optimize: bool = True
    ) -> None:
        if not low <= default <= high:
            raise ValueError(f"default {default} outside [{low}, {high}]")
        super().__init__(default, space=space, optimize=optimize)
        self.low, self.high = int(low), int(high)


class DecimalParameter(BaseParameter):
    kind = "decimal"

    def __init__(
        self,
        low: float,
        high: float,
        *,
        default: float,
        decimals: int = 3,
        space: str = "buy",
        optimize: bool = True,
    ) -> None:
        if not low <= default <= high:
            raise ValueError(f"default {default} outside [{low}, {high}]")
        super().__init__(default, space=space, optimize=optimize)
        self.low, self.high, self.decimals = float(low), float(high), int(decimals)


class CategoricalParameter(BaseParameter):
    kind = "categorical"

    def __init__(
        self,
        categories: Sequence[Any],
        *,
        default: Any = None,
        space: str = "buy",
        optimize: bool = True,
    ) -> None:
        cats = list(categories)
        if len(cats) < 2:
            raise ValueError("a categorical parameter needs at least two categories")
        default = cats[0] if default is None else default
        if default not in cats:
            raise ValueError(f"default {default!r} not among {cats}")
        super().__init__(default, space=space, optimize=optimize)
        self.categories = cats


class BooleanParameter(CategoricalParameter):
    kind = "bool"

    def __init__(self, *, default: bool = True, space: str = "buy", optimize: bool = True) -> None:
        super().__init__([True, False], default=default, space=space, optimize=optimize)


# ---------------------------------------------------------------- the interface


class Strategy:
    """Base class; subclass it and override the ``populate_*`` methods."""

    INTERFACE_VERSION: ClassVar[int] = INTERFACE_VERSION
    name: ClassVar[str] = "base"
    timeframe: ClassVar[str] = "5m"
    stoploss: float = -0.10
    minimal_roi: ClassVar[dict[int, float]] = {}
    trailing_stop: bool = False
    trailing_stop_positive: float | None = None
    trailing_stop_positive_offset: float = 0.0
    trailing_only_offset_is_reached: bool = False
    can_short: bool = False
    use_exit_signal: bool = True
    startup_candle_count: int = 0
    order_type: str = "market"  # "market" or "limit" (limit price from `enter_limit`)
    # Freqtrade's order settings. A strategy that sets limit entries/exits, a time-out or
    # position adjustment runs in the order-level backtest (`engine.backtest.orders`).
    order_types: ClassVar[dict[str, Any]] = {
        "entry": "market", "exit": "market", "stoploss": "market",
        "stoploss_on_exchange": False,
    }
    order_time_in_force: ClassVar[dict[str, str]] = {"entry": "GTC", "exit": "GTC"}
    unfilledtimeout: ClassVar[dict[str, Any]] = {}  # {"entry": 10, "exit": 10, "unit": "minutes"}
    position_adjustment_enable: bool = False
    use_custom_stoploss: bool = False  # call `custom_stoploss` each candle (order path)
    max_entry_position_adjustment: int = -1  # extra entries allowed; -1: unlimited
    # the order book and ticker (`engine.strategy.dataprovider`): a streaming paper or
    # live service sets its own; backtests keep this one, which answers None
    dp: DataProvider = OFFLINE

    @classmethod
    def parameters(cls) -> dict[str, BaseParameter]:
        """Hyperoptable parameters declared on the class, by name."""
        out: dict[str, BaseParameter] = {}
        for klass in reversed(cls.__mro__):
            for k, v in vars(klass).items():
                if isinstance(v, BaseParameter):
                    out[k] = v
        return out

    def set_params(self, **values: Any) -> Strategy:
        """Set parameter values (unknown names raise); returns self for chaining."""
        params = self.parameters()
        for k, v in values.items():
            if k in params or k in (
                "stoploss",
                "trailing_stop",
                "trailing_stop_positive",
                "trailing_stop_positive_offset",
                "trailing_only_offset_is_reached",
            ):
                setattr(self, k, v)
            else:
                raise StrategyError(f"{self.name}: unknown parameter {k!r}")
        return self

    def populate_indicators(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        return frame

    def on_news(self, event: NewsEvent, last: dict[str, float]) -> bool:
        """Live only, between candles: a scored headline about one of the bot's pairs
        just arrived. ``last`` holds the last closed candle's row (its indicator columns
        and the sentiment aggregate now). Return True to propose an entry at once.

        A backtest sees the same headline at the next candle close, through the
        ``news_impact`` / ``sentiment`` columns: write the same rule in
        ``populate_entry_trend`` so that both agree (live may act up to a candle
        earlier: that is the point of the hook)."""
        return False

    def populate_entry_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        return frame

    def populate_exit_trend(self, frame: Frame, metadata: dict[str, Any]) -> Frame:
        return frame

    # ---- order callbacks (Freqtrade's signatures; ``trade`` is an
    # `engine.strategy.trade.Trade`, None for a new trade; times are UTC datetimes)

    def custom_entry_price(self, pair: str, trade: Any, current_time: Any,
                           proposed_rate: float, entry_tag: str | None, side: str,
                           **kwargs: Any) -> float:
        """Limit price of an entry order (``order_types["entry"] == "limit"``); the
        engine rounds it to the price step and caps it at the candle's high."""
        return proposed_rate

    def custom_exit_price(self, pair: str, trade: Any, current_time: Any,
                          proposed_rate: float, current_profit: float,
                          exit_tag: str | None, **kwargs: Any) -> float:
        """Limit price of a signal exit (``order_types["exit"] == "limit"``)."""
        return proposed_rate

    def adjust_trade_position(self, trade: Any, current_time: Any, current_rate: float,
                              current_profit: float, min_stake: float | None,
                              max_stake: float, current_entry_rate: float,
                              current_exit_rate: float, current_entry_profit: float,
                              current_exit_profit: float, **kwargs: Any) -> Any:
        """With ``position_adjustment_enable``: called at each candle's open of an open
        trade. Return a stake to buy more (> 0) or to sell (< 0, a share of the
        position's stake), optionally as ``(stake, tag)``; None to do nothing."""
        return None

    def custom_stoploss(self, pair: str, trade: Any, current_time: Any, current_rate: float,
                        current_profit: float, after_fill: bool, **kwargs: Any
                        ) -> float | None:
        """With ``use_custom_stoploss``: the stop as a ratio below ``current_rate``
        (-0.04: 4 % below; `stoploss_from_open` / `stoploss_from_absolute` convert), or
        None to keep it. The stop only moves up, except on a call with ``after_fill``
        (right after an order of the trade filled; a strategy that names that parameter
        gets those calls). Backtests call it on each candle with the candle's high as
        ``current_rate`` (Freqtrade's rule), the live engine on each closed candle alike."""
        return None

    def leverage(self, pair: str, current_time: Any, current_rate: float,
                 proposed_leverage: float, max_leverage: float, entry_tag: str | None,
                 side: str, **kwargs: Any) -> float:
        """Futures only: the leverage of a new trade (``side`` "long" or "short"). The
        default takes the configured one (``--leverage`` / the bot's setting), where
        Freqtrade's returns 1.0; above ``max_leverage`` the entry is refused."""
        return proposed_leverage

    def uses_orders(self) -> bool:
        """True when the strategy needs the order-level backtest (limit orders, time-outs,
        custom prices, position adjustment or a custom stoploss) rather than the
        market-order kernel."""
        ot = self.order_types
        base = Strategy
        return bool(
            ot.get("entry", "market") != "market" or ot.get("exit", "market") != "market"
            or self.unfilledtimeout or self.position_adjustment_enable
            or self.use_custom_stoploss
            or type(self).custom_entry_price is not base.custom_entry_price
            or type(self).custom_exit_price is not base.custom_exit_price
        )


def call_strategy(strategy: Strategy, hook: str, *args: Any, **kwargs: Any) -> Any:
    """Run one user hook; any exception becomes `StrategyError` naming strategy and hook."""
    fn: Callable[..., Any] = getattr(strategy, hook)
    try:
        return fn(*args, **kwargs)
    except StrategyError:
        raise
    except Exception as e:
        raise StrategyError(
            f"strategy {strategy.name}.{hook} failed: {type(e).__name__}: {e}"
        ) from e


def analyze(strategy: Strategy, frame: Frame, metadata: dict[str, Any]) -> Frame:
    """populate_indicators -> entry -> exit, each through the safe wrapper."""
    for hook in ("populate_indicators", "populate_entry_trend", "populate_exit_trend"):
        out = call_strategy(strategy, hook, frame, metadata)
        if not isinstance(out, dict):
            raise StrategyError(f"strategy {strategy.name}.{hook} must return the frame")
        frame = out if isinstance(out, Frame) else Frame(out, n=frame.n)
    return frame


@dataclass(frozen=True, slots=True)
class Signals:
    """What the core needs from one analysed pair (aligned to its candles)."""

    enter_long: BoolA
    exit_long: BoolA
    enter_short: BoolA
    exit_short: BoolA
    stake_scale: F64
    enter_limit: F64


def extract_signals(strategy: Strategy, frame: Frame) -> Signals:
    """Pull the signal columns out of an analysed frame, validated."""
    n = frame.n

    def floats(name: str, default: float) -> F64:
        if name not in frame:
            return np.full(n, default)
        a = np.asarray(frame[name], dtype=np.float64)
        if a.shape != (n,):
            raise StrategyError(
                f"{strategy.name}: column {name!r} has shape {a.shape}, expected ({n},)"
            )
        return a

    el, xl = frame.bool_column("enter_long"), frame.bool_column("exit_long")
    es, xs = frame.bool_column("enter_short"), frame.bool_column("exit_short")
    if not strategy.can_short:
        es = np.zeros(n, dtype=np.bool_)
    if not strategy.use_exit_signal:
        xl = np.zeros(n, dtype=np.bool_)
        xs = np.zeros(n, dtype=np.bool_)
    scale = floats("stake_scale", 1.0)
    if "stake_scale" in frame:
        scale = np.where(np.isnan(scale), 0.0, scale)
    limit = floats("enter_limit", np.nan) if strategy.order_type == "limit" else np.full(n, np.nan)
    return Signals(el, xl, es, xs, scale, limit)


def exit_tag_at(tag: Any, row: int) -> str:
    """The exit reason a strategy gave for the exit signal on `row`: its ``exit_tag``
    column (one string for every row, or one per row), else ``exit_signal``."""
    if isinstance(tag, str):
        return tag or "exit_signal"
    if tag is None:
        return "exit_signal"
    try:
        v = tag[row]
    except (IndexError, TypeError, KeyError):
        return "exit_signal"
    return str(v) if v is not None and str(v) not in ("", "nan", "None") else "exit_signal"


def _last_bool(strategy: Strategy, frame: Frame, name: str) -> bool:
    if name not in frame:
        return False
    a = np.asarray(frame[name])
    if a.shape != (frame.n,):
        raise StrategyError(f"{strategy.name}: column {name!r} has shape {a.shape}, "
                            f"expected ({frame.n},)")
    x = a[frame.n - 1]
    if a.dtype == np.bool_:
        return bool(x)
    f = float(x)
    return f != 0.0 and f == f


def _last_float(strategy: Strategy, frame: Frame, name: str, default: float) -> float:
    if name not in frame:
        return default
    a = np.asarray(frame[name], dtype=np.float64)
    if a.shape != (frame.n,):
        raise StrategyError(f"{strategy.name}: column {name!r} has shape {a.shape}, "
                            f"expected ({frame.n},)")
    return float(a[frame.n - 1])


def extract_last(strategy: Strategy, frame: Frame) -> tuple[bool, bool, bool, bool, float, float]:
    """`extract_signals` for the last row only (what the live loop needs each candle):
    (enter_long, exit_long, enter_short, exit_short, stake_scale, enter_limit), with the
    same rules, read without converting whole columns."""
    el = _last_bool(strategy, frame, "enter_long")
    xl = _last_bool(strategy, frame, "exit_long")
    es = _last_bool(strategy, frame, "enter_short") if strategy.can_short else False
    xs = _last_bool(strategy, frame, "exit_short")
    if not strategy.use_exit_signal:
        xl = xs = False
    scale = _last_float(strategy, frame, "stake_scale", 1.0)
    if scale != scale:
        scale = 0.0
    limit = (_last_float(strategy, frame, "enter_limit", float("nan"))
             if strategy.order_type == "limit" else float("nan"))
    return el, xl, es, xs, scale, limit
