"""The one strategy interface (backtest, hyperopt, replay, paper and live run the same
code), its built-ins, the loader of user strategy files and the live runtime."""

from engine.strategy.interface import (
    BaseParameter,
    BooleanParameter,
    CategoricalParameter,
    DecimalParameter,
    Frame,
    IntParameter,
    NewsEvent,
    Strategy,
    StrategyError,
    crossed_above,
    crossed_below,
    shift,
)
from engine.strategy.params import LoadedStrategy, load_strategy
from engine.strategy.registry import (
    StrategyInfo,
    get_strategy,
    list_strategies,
    register,
    strategy_names,
)
from engine.strategy.stoploss_helpers import stoploss_from_absolute, stoploss_from_open

__all__ = [
    "BaseParameter",
    "BooleanParameter",
    "CategoricalParameter",
    "DecimalParameter",
    "Frame",
    "IntParameter",
    "LoadedStrategy",
    "NewsEvent",
    "Strategy",
    "StrategyError",
    "StrategyInfo",
    "crossed_above",
    "crossed_below",
    "get_strategy",
    "list_strategies",
    "load_strategy",
    "register",
    "shift",
    "stoploss_from_absolute",
    "stoploss_from_open",
    "strategy_names",
]
