"""Connection-level helpers of the sink: connect, read stored offsets, run retention."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url


def conninfo(database_url: str) -> str:
    """A libpq URL from the SQLAlchemy form the rest of Arbees uses (postgresql+psycopg://...)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(database_url: str) -> psycopg.Connection:
    """Autocommit connection: every batch opens its own explicit transaction."""
    return psycopg.connect(conninfo(database_url), autocommit=True, application_name="arbees-sink")


def load_offsets(conn: psycopg.Connection, consumer: str) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition), as committed together with the rows."""
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer = %s", (consumer,)
    ).fetchall()
    return {(topic, partition): next_offset for topic, partition, next_offset in rows}


def timescaledb_features(conn: psycopg.Connection) -> str:
    """"on" or "off" as recorded by migration 0002; a database that is not migrated is an error."""
    row = conn.execute("SELECT value FROM arbees_meta WHERE key = 'timescaledb'").fetchone()
    if row is None:
        raise RuntimeError("arbees_meta has no 'timescaledb' entry: run `arbees db migrate` first")
    return str(row[0])


def apply_retention(conn: psycopg.Connection) -> int:
    """Delete raw time series older than 30 days (plain PostgreSQL; TimescaleDB has its own policy)."""
    row = conn.execute("SELECT arbees_apply_retention()").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
