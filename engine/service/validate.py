"""Checks that need more than the settings model, run before anything is written.

`validate_for_start` is the first call of `serve()`: a configuration that cannot run
fails here with ONE `ConfigError` line (key, value, what is allowed) while the database
is still untouched: no file created, no migration, no bot row.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ConfigError, SentitradeError
from engine.storage.config import Settings

__all__ = ["validate_for_start"]

CONNECT_TIMEOUT_S = 5


def validate_for_start(settings: Settings) -> None:
    """Raise `ConfigError` with one line if `settings` cannot start the service."""
    _check_exchange_id(settings)
    if settings.exchange.mode == "replay":
        _check_replay_data(settings)
    _check_database(settings.database.url)


def _check_exchange_id(settings: Settings) -> None:
    if settings.exchange.mode == "replay":
        return
    import ccxt

    known = set(ccxt.exchanges)
    if settings.exchange.id not in known:
        near = sorted(x for x in known if x.startswith(settings.exchange.id[:3].lower()))[:5]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ConfigError(f"invalid setting exchange.id = {settings.exchange.id!r}: not an "
                          f"exchange ccxt knows{hint}")


def _check_replay_data(settings: Settings) -> None:
    """Every bot's symbols on its timeframe must have candles (as the replay loads them)."""
    from engine.data.candles import DEMO_DATA_DIR
    from engine.data.feeds import load_replay_candles

    data = Path(settings.exchange.replay_data or DEMO_DATA_DIR)
    key = f"exchange.replay_data = {str(data)!r}"
    if not data.exists():
        raise ConfigError(f"invalid setting {key}: no such file or folder")
    if data.is_dir() and not any(data.iterdir()):
        raise ConfigError(f"invalid setting {key}: the folder is empty")
    for i, bot in enumerate(settings.bots):
        try:
            loaded = load_replay_candles(data, list(bot.symbols), bot.timeframe)
        except SentitradeError as e:
            raise ConfigError(f"invalid setting bots[{i}] ({bot.name}) with {key}: "
                              f"{str(e).splitlines()[0]}") from None
        except Exception as e:  # an unreadable file: name it, no traceback
            raise ConfigError(f"invalid setting {key}: cannot read candles for bot "
                              f"{bot.name!r}: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}") from None
        for sym in bot.symbols:
            if sym not in loaded or len(loaded[sym]) == 0:
                raise ConfigError(f"invalid setting bots[{i}].symbols: {sym} {bot.timeframe} "
                                  f"has no candles in {data}: bot {bot.name!r} would never "
                                  "get a candle")


def _check_database(url: str) -> None:
    """The URL parses and, for a server, answers: one line instead of a driver traceback.

    Read-only: a SQLite file is not created here (the folder is checked instead)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"invalid setting database.url = {url!r}: not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return
    if backend != "postgresql":
        raise ConfigError(f"invalid setting database.url: backend {backend!r} is not "
                          "supported (use sqlite:///path or postgresql://...)")
    import sqlalchemy as sa

    from engine.storage.db import make_engine

    where = parsed.render_as_string(hide_password=True)
    eng = make_engine(url)
    try:
        with sa.create_engine(eng.url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
                              poolclass=sa.pool.NullPool).connect() as c:
            c.exec_driver_sql("SELECT 1")
    except Exception as e:
        first = str(getattr(e, "orig", e)).strip().splitlines()
        reason = first[0] if first else type(e).__name__
        raise ConfigError(f"invalid setting database.url = {where!r}: cannot connect "
                          f"({reason[:200]}): check the URL and that the server runs") from None
    finally:
        eng.dispose()
