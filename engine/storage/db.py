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
from sqlalchemy.engine import Connection, Engine, make_url
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


MIGRATION_LOCK_KEY = 0x53454E54  # "SENT": the Postgres advisory lock every migrator takes


def make_migration_engine(url: str) -> Engine:
    """An engine whose transactions are real for DDL too, for schema migrations.

    pysqlite only opens a transaction before INSERT/UPDATE/DELETE, so each CREATE TABLE
    would commit on its own and a kill mid-upgrade would leave half a schema. Here the
    driver's own transaction handling is switched off and every SQLAlchemy `begin()`
    emits `BEGIN IMMEDIATE`: the whole upgrade is one transaction and it holds SQLite's
    write lock from its first statement, so a second migrator waits (busy timeout) and
    then finds the schema already at head (the recipe in SQLAlchemy's pysqlite notes,
    "Serializable isolation / Savepoints / Transactional DDL").
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_manual_transactions)
        event.listen(engine, "connect", _sqlite_patient_migrator)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def lock_for_migration(connection: Connection) -> None:
    """Inside the migration's transaction: make concurrent migrators queue up.

    SQLite already holds the write lock (`BEGIN IMMEDIATE`); Postgres takes a
    transaction-scoped advisory lock, released by the commit or the rollback.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def _sqlite_manual_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver never BEGINs nor COMMITs on its own


def _sqlite_patient_migrator(dbapi_conn: Any, _record: Any) -> None:
    # A migrator queued behind others waits for all of their upgrades, each one the whole
    # chain on a busy machine: the service's 30 s would fail a start that only had to wait.
    dbapi_conn.execute("PRAGMA busy_timeout=300000")


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
