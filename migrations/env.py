"""Alembic environment: our SQLModel metadata, SQLite batch mode, our column types."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

import engine.storage.models  # noqa: F401  (registers every table on the metadata)
from engine.storage.db import lock_for_migration, make_migration_engine
from engine.storage.models import ALL_TABLES

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = ALL_TABLES


def _url() -> str:
    env = os.environ.get("SENTITRADE_DATABASE__URL")
    if env and config.config_file_name is not None:  # CLI use: env wins over the ini
        return env
    return config.get_main_option("sqlalchemy.url") or "sqlite:///var/sentitrade.db"


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    eng = make_migration_engine(_url())
    try:
        with eng.connect() as connection, connection.begin():
            # One transaction for the whole upgrade (every migration, the version row):
            # a kill anywhere leaves the schema as it was before. Alembic sees an
            # external transaction and neither commits nor begins on its own.
            lock_for_migration(connection)
            _run(connection)
    finally:
        eng.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
