"""Columns for the resolution rule of a listing and the reason of a signal.

`market_listings.resolution` holds the venue's rule as read from its payload
(`schemas.records.ResolutionRule`, NULL when the venue's rules were not read);
`signals.reason` says why a signal exists — for a cross-venue arbitrage, why the
two markets' rules were judged equivalent — so a trader can audit a pair from
the database alone.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: table -> column definitions added (name first, as in a CREATE TABLE element).
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "market_listings": ("resolution jsonb",),
    "signals": ("reason text NOT NULL DEFAULT ''",),
}


def add_column_statements() -> list[str]:
    return [f"ALTER TABLE {table} ADD COLUMN {col}" for table, cols in ADDED_COLUMNS.items() for col in cols]


def upgrade() -> None:
    for stmt in add_column_statements():
        op.execute(stmt)


def downgrade() -> None:
    for table, cols in reversed(ADDED_COLUMNS.items()):
        for col in reversed(cols):
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {col.split()[0]}")
