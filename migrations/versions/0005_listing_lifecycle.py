"""Columns for a listing's lifecycle and the venue's settlement value (MarketListing v19).

`lifecycle` is the venue-neutral status (OPEN, PAUSED, CLOSED, DETERMINED, SETTLED,
UNKNOWN for rows written before it existed); `settlement_micros` is what one YES
contract paid as the venue settled it (null until then). `ADD COLUMN` with a
constant default: no table rewrite.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: table -> column definitions added (name first, as in a CREATE TABLE element).
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "market_listings": ("lifecycle text NOT NULL DEFAULT 'UNKNOWN'", "settlement_micros bigint"),
}


def add_column_statements() -> list[str]:
    return [f"ALTER TABLE {table} ADD COLUMN {col}" for table, cols in ADDED_COLUMNS.items() for col in cols]


def drop_column_statements() -> list[str]:
    return [
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS {col.split()[0]}"
        for table, cols in reversed(ADDED_COLUMNS.items())
        for col in reversed(cols)
    ]


def upgrade() -> None:
    for stmt in add_column_statements():
        op.execute(stmt)


def downgrade() -> None:
    for stmt in drop_column_statements():
        op.execute(stmt)
