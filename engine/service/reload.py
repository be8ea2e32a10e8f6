"""Reload the settings file into a running engine (`/reload_config`).

The file is read and validated completely first (the schema, every bot's strategy with
its parameters): a bad file changes nothing and the error is one line. Then each
difference from the running settings is either applied now or reported as needing a
restart:

* applied now: `[approvals]`, `[risk]` (limits, breakers, protections, white- and
  blacklist), `[notify]`, the `allowed_users` of `[telegram]` and `[discord]`, and per
  bot its `params` (the strategy is rebuilt and keeps the candles it holds, so it needs
  no new warm-up), its `approval_mode`, and its `symbols` where candles are polled per
  tick (paper/live without streams);
* needs a restart: everything else (database, exchange, tokens, API, bus, sentiment,
  engine timings, a new, removed or renamed bot, a bot's strategy or timeframe). Those
  keep their running values until then.

Secrets are never compared from the file: a token kept in the vault is absent from the
file, and a missing secret is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.risk.protections import ProtectionDesk
from engine.service.engine import Engine
from engine.storage.config import BotSpec, Settings, load_settings
from engine.storage.secrets_sync import SECRET_FIELDS
from engine.strategy.params import load_strategy

HOT_SECTIONS = ("approvals", "risk", "notify")
HOT_KEYS = {("telegram", "allowed_users"), ("discord", "allowed_users")}
BOT_HOT = ("params", "approval_mode")


@dataclass
class ReloadResult:
    """What a reload did: `applied` and `restart` hold one short line per change."""

    applied: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)


def _short(v: Any) -> str:
    text = str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _diff(prefix: str, old: Any, new: Any) -> list[str]:
    """'risk.max_open_trades 3 → 5' for each leaf that differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            out += _diff(f"{prefix}.{k}", old.get(k), new.get(k))
        return out
    return [] if old == new else [f"{prefix} {_short(old)} → {_short(new)}"]


def _secret(settings: Settings, section: str, key: str) -> str:
    v = getattr(getattr(settings, section), key, None)
    return "" if v is None else str(getattr(v, "get_secret_value", lambda: v)())


def _bots(old: Settings, new: Settings) -> tuple[list[BotSpec], list[str], list[str]]:
    """The bot specs to run now (changes that apply at once taken from `new`), and the
    lines applied / needing a restart."""
    applied: list[str] = []
    restart: list[str] = []
    by_name = {b.name: b for b in new.bots}
    polled = old.exchange.mode in ("paper", "live") and not old.exchange.stream
    specs: list[BotSpec] = []
    for b in old.bots:
        nb = by_name.get(b.name)
        if nb is None:
            restart.append(f"bot {b.name} removed")
            specs.append(b)
            continue
        update: dict[str, Any] = {}
        for key in BOT_HOT:
            lines = _diff(f"bot {b.name}.{key}", getattr(b, key), getattr(nb, key))
            if lines:
                update[key] = getattr(nb, key)
                applied += lines
        sym = _diff(f"bot {b.name}.symbols", b.symbols, nb.symbols)
        if sym and polled:
            update["symbols"] = list(nb.symbols)
            applied += sym
        elif sym:
            restart += [f"{s} (the feed was built for the old pairs)" for s in sym]
        for key in ("strategy", "timeframe"):
            restart += _diff(f"bot {b.name}.{key}", getattr(b, key), getattr(nb, key))
        specs.append(b.model_copy(update=update) if update else b)
    known = {b.name for b in old.bots}
    restart += [f"bot {b.name} added" for b in new.bots if b.name not in known]
    return specs, applied, restart


def plan(old: Settings, new: Settings) -> tuple[Settings, ReloadResult]:
    """The settings to run with now (the running ones with every change that can apply
    at once taken from `new`) and what changed."""
    res = ReloadResult()
    secret = {f"{a}.{b}" for a, b in SECRET_FIELDS}
    od, nd = old.model_dump(mode="json"), new.model_dump(mode="json")
    update: dict[str, Any] = {}
    for section in od:
        if section == "bots":
            continue
        if section in HOT_SECTIONS:
            lines = _diff(section, od[section], nd[section])
            if lines:
                update[section] = getattr(new, section)
                res.applied += lines
            continue
        o, n = od[section], nd[section]
        if not isinstance(o, dict):
            res.restart += _diff(section, o, n)
            continue
        parts: dict[str, Any] = {}
        for key in sorted(set(o) | set(n)):
            name = f"{section}.{key}"
            if name in secret:
                if _secret(new, section, key) not in ("", _secret(old, section, key)):
                    res.restart.append(f"{name} changed")
                continue  # absent from the file (kept in the vault): not a change
            lines = _diff(name, o.get(key), n.get(key))
            if not lines:
                continue
            if (section, key) in HOT_KEYS:
                parts[key] = getattr(getattr(new, section), key)
                res.applied += lines
            else:
                res.restart += lines
        if parts:
            update[section] = getattr(old, section).model_copy(update=parts)
    specs, applied, restart = _bots(old, new)
    if applied:
        update["bots"] = specs
    res.applied += applied
    res.restart += restart
    return (old.model_copy(update=update) if update else old), res


def reload_settings(eng: Engine, path: Path) -> ReloadResult:
    """Read `path`, validate it fully, apply what can change at runtime; raises
    `ConfigError` (one line) and changes nothing when the file is bad."""
    new = load_settings(path)
    folder = eng.settings.engine.strategy_path  # [engine] is restart-only: the running one
    for spec in new.bots:  # every strategy and its params load, or nothing is applied
        try:
            load_strategy(spec.strategy, folder, spec.params)
        except Exception as e:
            raise ConfigError(f"bot {spec.name}: {str(e).splitlines()[0]}") from None
    running, res = plan(eng.settings, new)
    if res.applied:
        apply(eng, running)
    return res


def apply(eng: Engine, settings: Settings) -> None:
    """Make a running engine use `settings`: the limits and modes it reads on every
    decision, and each bot whose parameters changed (its candles kept)."""
    old = {b.name: b for b in eng.settings.bots}
    eng.settings = settings
    eng.monitor.lim = settings.risk  # its rolling state (peaks, episodes) stays
    eng.protections = ProtectionDesk(settings.risk.protections)
    eng.bots.settings = settings
    eng.bots.sync_specs()
    eng.bots.invalidate()
    loop = eng.strategies
    for spec in settings.bots:
        if old.get(spec.name) is not None and old[spec.name].params == spec.params:
            continue
        before = loop.runtimes.get(spec.name)
        rt = loop._build(spec.name, spec.strategy, spec.timeframe, spec.params)
        if before is not None and before.timeframe == rt.timeframe:
            rt.buffers = before.buffers  # the candles seen so far: no new warm-up
    eng._view = None
