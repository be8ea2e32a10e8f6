"""Database engine and session factory.

SQLite gets WAL (readers never block the writer, a crash never leaves a torn page),
foreign keys on and a busy timeout; Postgres is used as given by URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from engine.errors import ConfigError


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create the engine for `url`, making the SQLite file's folder when needed."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"invalid setting database.url = {url!r}: not a database URL") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    kwargs["pool_pre_ping"] = True
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class SessionFactory:
    """Hands out sessions bound to one engine; `begin()` is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session
