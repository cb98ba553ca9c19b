"""Columns for the record fields 0001 could not store, every ledger version kept, lz4 for quote depth.

- New fields of the contract records get columns (`ADD COLUMN` with a constant
  default: no table rewrite, and it works on hypertables too).
- `ledger_entries` is keyed by (entry_id, version, ts): the ledger's optimistic
  rule (streams/trading/ledger.py) rebuilds a refused entry under the same
  entry_id and ts with a new version, and both are facts of the log; keyed on
  (entry_id, ts) the rebuilt one would have been silently dropped as a replay.
- `bankroll_audit.entry_id` names the entry each audit row booked, so the sink
  can refuse an entry booked before at another version, as every reader does.
  Rows written before 0003 get it from their ledger row where one matches.
- `quotes.depth` (the full ladders, the bulk of the database) is TOASTed with
  lz4 where the server was built with it; `arbees_meta.quotes_depth_compression`
  records the method in use.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: table -> column definitions added (name first, as in a CREATE TABLE element).
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "event_states": (
        "entity_a_id text NOT NULL DEFAULT ''",
        "entity_b_id text NOT NULL DEFAULT ''",
        "entity_a_abbr text NOT NULL DEFAULT ''",
        "entity_b_abbr text NOT NULL DEFAULT ''",
    ),
    "plays": (
        "score_value integer NOT NULL DEFAULT 0",
        "features jsonb NOT NULL DEFAULT '{}'::jsonb",
    ),
    "market_listings": ("tick_bands jsonb NOT NULL DEFAULT '[]'::jsonb",),
    "orders": ("model_p double precision",),
    "quotes": ("source text NOT NULL DEFAULT ''",),
    "bankroll_audit": ("entry_id text NOT NULL DEFAULT ''",),
}

LEDGER_KEY_OLD = ("entry_id", "ts")
LEDGER_KEY_NEW = ("entry_id", "version", "ts")  # TimescaleDB needs ts in every unique key

#: Fill in the entry id of audit rows booked before 0003 (the trigger refuses updates; lifted only here).
AUDIT_BACKFILL = (
    "ALTER TABLE bankroll_audit DISABLE TRIGGER bankroll_audit_no_change",
    """UPDATE bankroll_audit a SET entry_id = le.entry_id
       FROM ledger_entries le
       WHERE a.entry_id = '' AND le.account = a.account AND le.version = a.version
         AND le.delta_micros = a.delta_micros AND le.balance_micros = a.balance_micros
         AND le.reason = a.reason AND le.ref = a.ref""",
    "ALTER TABLE bankroll_audit ENABLE TRIGGER bankroll_audit_no_change",
)

#: True when this server can TOAST with lz4 (PostgreSQL >= 14 built --with-lz4).
LZ4_AVAILABLE = (
    "SELECT coalesce(bool_or('lz4' = ANY(enumvals)), false) FROM pg_settings WHERE name = 'default_toast_compression'"
)
TIMESCALE_ON = "SELECT value = 'on' FROM arbees_meta WHERE key = 'timescaledb'"


def add_column_statements() -> list[str]:
    return [f"ALTER TABLE {table} ADD COLUMN {col}" for table, cols in ADDED_COLUMNS.items() for col in cols]


def drop_column_statements() -> list[str]:
    return [
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS {col.split()[0]}"
        for table, cols in reversed(ADDED_COLUMNS.items())
        for col in reversed(cols)
    ]


def _set_primary_key(table: str, columns: tuple[str, ...]) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(columns)})")


def _meta(key: str, value: str) -> None:
    op.execute(f"INSERT INTO arbees_meta (key, value) VALUES ('{key}', '{value}') "
               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")


def _set_depth_compression(method: str) -> None:
    """SET COMPRESSION does not recurse: hypertable chunks that exist already are set one by one
    (chunks created later copy the method from the hypertable)."""
    bind = op.get_bind()
    bind.execute(text(f"ALTER TABLE quotes ALTER COLUMN depth SET COMPRESSION {method}"))
    if bind.execute(text(TIMESCALE_ON)).scalar():
        for (chunk,) in bind.execute(text("SELECT show_chunks('quotes')::text")).all():
            bind.execute(text(f"ALTER TABLE {chunk} ALTER COLUMN depth SET COMPRESSION {method}"))


def _depth_lz4() -> str:
    """Switch quotes.depth to lz4 if the server has it; the method now in use ("lz4" or "pglz")."""
    bind = op.get_bind()
    if not bind.execute(text(LZ4_AVAILABLE)).scalar():
        return "pglz"
    # A savepoint: should an extension refuse the change on its tables, the migration goes on with pglz.
    with bind.begin_nested() as attempt:
        try:
            _set_depth_compression("lz4")
        except Exception:  # noqa: BLE001 - any refusal leaves the default method, recorded below
            attempt.rollback()
            return "pglz"
    return "lz4"


def upgrade() -> None:
    for stmt in add_column_statements():
        op.execute(stmt)
    for stmt in AUDIT_BACKFILL:
        op.execute(stmt)
    _set_primary_key("ledger_entries", LEDGER_KEY_NEW)
    _meta("quotes_depth_compression", _depth_lz4())


def downgrade() -> None:
    bind = op.get_bind()
    versions = bind.execute(text(
        "SELECT count(*) FROM (SELECT 1 FROM ledger_entries GROUP BY entry_id, ts HAVING count(*) > 1) d"
    )).scalar()
    if versions:
        raise RuntimeError(
            f"cannot downgrade 0003: {versions} ledger entries are stored at more than one version, and "
            "the (entry_id, ts) key of 0002 would hold only one of each; export ledger_entries first"
        )
    _set_primary_key("ledger_entries", LEDGER_KEY_OLD)
    method = bind.execute(text("SELECT value FROM arbees_meta WHERE key = 'quotes_depth_compression'")).scalar()
    if method == "lz4":  # values stored as lz4 stay readable: the server has lz4
        _set_depth_compression("default")
    op.execute("DELETE FROM arbees_meta WHERE key = 'quotes_depth_compression'")
    for stmt in drop_column_statements():
        op.execute(stmt)
