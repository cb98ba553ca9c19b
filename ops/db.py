"""Database migrations: Alembic driven from code, so `arbees db` needs no ini file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from ops.postgres.timescale import LOADED_SQL

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


@dataclass(frozen=True)
class DbStatus:
    server_version: str
    current: str | None
    head: str
    timescaledb_available: bool  # listed with the server's extensions, or loaded from a private folder
    timescaledb_loaded: bool  # preloaded: the TimescaleDB path can be taken
    timescaledb_features: str  # "on", "off" or "not migrated"
    tables: int


def migrate(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def status(database_url: str) -> DbStatus:
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head() or "none"
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar() or "?"
            current = MigrationContext.configure(conn).get_current_revision()
            listed = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).scalar()
            loaded = bool(conn.execute(text(LOADED_SQL)).scalar())
            available = bool(listed) or loaded
            names = inspect(conn).get_table_names()
            features = "not migrated"
            if "arbees_meta" in names:
                features = conn.execute(text("SELECT value FROM arbees_meta WHERE key = 'timescaledb'")).scalar() or "off"
    finally:
        engine.dispose()
    return DbStatus(str(version), current, head, available, loaded, features, len(names))
