"""`fills.fee_computed`: the venue reported no fee for the fill and `fee_micros` is its published schedule's.

Kalshi fill payloads older than `fee_cost` carry no fee; live execution books them with the fee of
Kalshi's schedule (streams/fees/kalshi.py) and marks them, so a reader can tell a venue figure from ours.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: table -> column definitions added (name first, as in a CREATE TABLE element).
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "fills": ("fee_computed boolean NOT NULL DEFAULT false",),
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
