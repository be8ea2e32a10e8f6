"""Finding a strategy by name: built-ins first, then the trader's own files.

Freqtrade's habit: strategies are classes in ``*.py`` files of a strategy folder
(``--strategy-path DIR`` on every command, ``strategy_path`` in the settings), named by
class name in ``[[bots]] strategy = "MyStrategy"``. A built-in is found by its short name
(``ema_rsi_cross``) or its class name (``EmaRsiCross``). An unknown or broken strategy
raises `StrategyError` with one line naming it and what was found, so that a start stops
before anything is written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.strategy.builtins import BUILTINS
from engine.strategy.interface import Strategy, StrategyError

_EXTRA: dict[str, type[Strategy]] = {}


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """One strategy `list-strategies` shows: where it lives, or why it cannot load."""

    name: str
    class_name: str
    source: str  # "built-in" or the file path
    error: str | None = None


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator adding a strategy under ``cls.name`` (tests, plug-ins)."""
    _EXTRA[cls.name] = cls
    return cls


def strategy_names() -> list[str]:
    """Names of the built-in (and registered) strategies."""
    return sorted({*BUILTINS, *_EXTRA})


def _builtin(name: str) -> type[Strategy] | None:
    known = {**BUILTINS, **_EXTRA}
    if name in known:
        return known[name]
    for cls in known.values():
        if cls.__name__ == name:
            return cls
    return None


def _load_file(path: Path) -> list[type[Strategy]]:
    """Import one strategy file under a private module name; its Strategy subclasses."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    mod_name = f"sentitrade_user_strategy_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(mod_name, None)
        raise StrategyError(f"{path} failed to load: {type(e).__name__}: {e}") from e
    out: list[type[Strategy]] = []
    for obj in vars(module).values():
        if (isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy
                and obj.__module__ == mod_name):
            out.append(obj)
    return out


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise StrategyError(f"strategy path {path} does not exist: create it or pass "
                            "--strategy-path DIR")
    return sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))


def list_strategies(strategy_path: Path | None = None) -> list[StrategyInfo]:
    """Every strategy that can be named: built-ins, then each file's classes (a file
    that fails to import is listed with its error)."""
    out = [StrategyInfo(n, c.__name__, "built-in") for n, c in sorted(
        {**BUILTINS, **_EXTRA}.items())]
    # the basket bot type: not a per-pair strategy (`engine.service.rebalancer`; its
    # backtest is `backtest --strategy rebalance`)
    out.append(StrategyInfo("rebalance", "Rebalancer", "built-in"))
    out.sort(key=lambda i: i.name)
    if strategy_path is None:
        return out
    for f in _files(strategy_path):
        try:
            classes = _load_file(f)
        except StrategyError as e:
            out.append(StrategyInfo(f.stem, "?", str(f), str(e)))
            continue
        out += [StrategyInfo(c.__name__, c.__name__, str(f)) for c in classes]
    return out


def strategy_class(
    name: str, strategy_path: Path | None = None
) -> tuple[type[Strategy], Path | None]:
    """The class named `name` and the file it came from (None for a built-in)."""
    cls = _builtin(name)
    if cls is not None:
        return cls, None
    found: list[str] = []
    broken: list[str] = []
    if strategy_path is not None:
        for f in _files(strategy_path):
            try:
                classes = _load_file(f)
            except StrategyError as e:
                broken.append(str(e))
                continue
            for c in classes:
                if name in (c.__name__, c.name):
                    if c.name == "base":  # a user class that kept the base's short name
                        c.name = c.__name__
                    return c, f
                found.append(c.__name__)
    where = f" in {strategy_path}" if strategy_path is not None else ""
    parts = [f"unknown strategy {name!r}{where}: built-in ones are "
             f"{', '.join(strategy_names())}"]
    if found:
        parts.append(f"files there define {', '.join(sorted(found))}")
    if broken:
        parts.append(f"and {len(broken)} file(s) failed to load ({broken[0]})")
    if strategy_path is None:
        parts.append("pass --strategy-path DIR (or set strategy_path) for your own files")
    raise StrategyError("; ".join(parts))


def get_strategy(name: str, strategy_path: Path | None = None) -> Strategy:
    """A fresh instance of strategy `name` (defaults only; see `engine.strategy.params`
    for the hyperopted values and where each came from)."""
    cls, _ = strategy_class(name, strategy_path)
    try:
        return cls()
    except Exception as e:
        raise StrategyError(f"strategy {name!r} could not be created: "
                            f"{type(e).__name__}: {e}") from e
