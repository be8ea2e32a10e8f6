"""Hyperopt results that reach the live bot: Freqtrade's ``<Strategy>.json`` convention.

`hyperopt` writes the best parameters beside the strategy (``MyStrat.py`` ->
``MyStrat.json``; a built-in's file goes to the strategy folder, else
``var/strategies/<name>.json``). `backtest`, `run` and the chat load them through
`load_strategy`, which also records where every value came from (``default``, the JSON
file, or the bot's ``params`` in the settings) so `/strategy` can say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.strategy.interface import Strategy, StrategyError
from engine.strategy.registry import strategy_class

DEFAULT_DIR = Path("var/strategies")
_EXTRA_KEYS = ("stoploss", "trailing_stop", "trailing_stop_positive",
               "trailing_stop_positive_offset", "trailing_only_offset_is_reached")


@dataclass(slots=True)
class LoadedStrategy:
    """A strategy instance with its parameter values and their provenance."""

    strategy: Strategy
    params_file: Path
    sources: dict[str, str] = field(default_factory=dict)
    file: Path | None = None

    def values(self) -> dict[str, Any]:
        s = self.strategy
        out = {k: getattr(s, k) for k in s.parameters()}
        out["stoploss"] = s.stoploss
        for k in (*_EXTRA_KEYS, "minimal_roi"):  # hyperopted or set ones too
            if k in self.sources:
                out[k] = getattr(s, k)
        return out

    def describe(self) -> str:
        """One line: name, where its parameters came from."""
        src = sorted(set(self.sources.values()))
        return f"{self.strategy.name} ({', '.join(src) or 'defaults'})"


def params_file_for(cls: type[Strategy], file: Path | None,
                    strategy_path: Path | None = None) -> Path:
    if file is not None:
        return file.with_name(f"{cls.__name__}.json")
    return (strategy_path if strategy_path is not None and strategy_path.is_dir()
            else DEFAULT_DIR) / f"{cls.name}.json"


def read_params(path: Path) -> dict[str, Any]:
    """Flat name -> value from a Freqtrade-style params file (spaces flattened)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StrategyError(f"{path}: cannot read hyperopt parameters: {e}") from e
    params = doc.get("params", doc) if isinstance(doc, dict) else None
    if not isinstance(params, dict):
        raise StrategyError(f"{path}: expected {{\"params\": {{space: {{name: value}}}}}}")
    flat: dict[str, Any] = {}
    for space, vals in params.items():
        if space == "roi" and isinstance(vals, dict):
            flat["minimal_roi"] = {int(k): float(v) for k, v in vals.items()}
        elif isinstance(vals, dict):
            flat.update(vals)
    return flat


def write_params(path: Path, strategy: Strategy, values: dict[str, Any],
                 meta: dict[str, Any] | None = None) -> Path:
    """Write the best values by space, Freqtrade's layout, atomically."""
    spaces: dict[str, dict[str, Any]] = {}
    declared = strategy.parameters()
    for k, v in values.items():
        space = declared[k].space if k in declared else (
            "stoploss" if k == "stoploss" else "trailing")
        spaces.setdefault(space, {})[k] = v
    doc = {"strategy_name": strategy.name, "params": spaces, "ft_stratparam_v": 1,
           "export_time": datetime.now(UTC).isoformat(timespec="seconds"), **(meta or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def _apply(strategy: Strategy, values: dict[str, Any], origin: str,
           sources: dict[str, str]) -> None:
    declared = strategy.parameters()
    for k, v in values.items():
        if k == "minimal_roi":
            strategy.minimal_roi = dict(v)  # type: ignore[misc]
        elif k in declared or k in _EXTRA_KEYS:
            setattr(strategy, k, v)
        else:
            raise StrategyError(f"{origin}: {strategy.name} has no parameter {k!r} "
                                f"(it has {', '.join(sorted(declared)) or 'none'})")
        sources[k] = origin


def load_strategy(name: str, strategy_path: Path | None = None,
                  overrides: dict[str, Any] | None = None,
                  *, use_params_file: bool = True) -> LoadedStrategy:
    """Strategy `name` with: defaults < ``<Strategy>.json`` < `overrides` (settings)."""
    cls, file = strategy_class(name, strategy_path)
    try:
        strat = cls()
    except Exception as e:
        raise StrategyError(f"strategy {name!r} could not be created: "
                            f"{type(e).__name__}: {e}") from e
    sources = {k: "default" for k in strat.parameters()}
    sources["stoploss"] = "default"
    pfile = params_file_for(cls, file, strategy_path)
    if use_params_file and pfile.is_file():
        _apply(strat, read_params(pfile), str(pfile), sources)
    if overrides:
        _apply(strat, dict(overrides), "settings", sources)
    return LoadedStrategy(strat, pfile, sources, file)
