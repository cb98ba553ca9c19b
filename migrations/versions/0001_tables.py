"""Tables for every sunk record type, the bankroll and its audit trail, and the archives.

Every sunk row carries the topic, partition and offset it came from and a
natural primary key (record id + event time, since TimescaleDB needs the time
column in every unique key), so the sink can upsert and stay idempotent.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SOURCE = "src_topic text NOT NULL, src_partition integer NOT NULL, src_offset bigint NOT NULL"

#: table -> (id column, columns); every table also gets ts and the source columns.
SUNK_TABLES: dict[str, tuple[str, str]] = {
    "raw_feeds": (
        "raw_id",
        "source text NOT NULL, endpoint text NOT NULL, url text NOT NULL, params jsonb NOT NULL, "
        "status integer NOT NULL, fetched_at timestamptz NOT NULL, body text NOT NULL",
    ),
    "event_states": (
        "state_id",
        "event_id text NOT NULL, source text NOT NULL, market_type text NOT NULL, league text NOT NULL, "
        "name text NOT NULL, status text NOT NULL, start_ts timestamptz, entity_a text NOT NULL, "
        "entity_b text NOT NULL, score_a integer NOT NULL, score_b integer NOT NULL, period integer NOT NULL, "
        "clock_seconds double precision, possession text, down integer, distance integer, yard_line integer, "
        "spread_a double precision, total double precision, winner text, features jsonb NOT NULL",
    ),
    "plays": (
        "play_id",
        "event_id text NOT NULL, league text NOT NULL, sequence integer NOT NULL, period integer NOT NULL, "
        "clock_seconds double precision, team_id text, play_type text NOT NULL, text text NOT NULL, "
        "score_a integer NOT NULL, score_b integer NOT NULL, scoring_play boolean NOT NULL, "
        "source_home_win_prob double precision",
    ),
    "quotes": (
        "quote_id",
        "venue text NOT NULL, market_id text NOT NULL, seq bigint NOT NULL, "
        "yes_bid_micros bigint, yes_bid_size double precision NOT NULL, yes_ask_micros bigint, "
        "yes_ask_size double precision NOT NULL, no_bid_micros bigint, no_bid_size double precision NOT NULL, "
        "no_ask_micros bigint, no_ask_size double precision NOT NULL, yes_mid_micros bigint, depth jsonb NOT NULL",
    ),
    "probabilities": (
        "prob_id",
        "event_id text NOT NULL, outcomes jsonb NOT NULL, model text NOT NULL, version text NOT NULL, "
        "inputs_digest text NOT NULL, state_id text NOT NULL",
    ),
    "signals": (
        "signal_id",
        "event_id text NOT NULL, kind text NOT NULL, legs jsonb NOT NULL, model_p double precision, "
        "edge double precision NOT NULL, ev_micros bigint NOT NULL, size double precision NOT NULL, "
        "model text NOT NULL, trigger text NOT NULL",
    ),
    "orders": (
        "order_id",
        "account text NOT NULL, signal_id text NOT NULL, mode text NOT NULL, venue text NOT NULL, "
        "market_id text NOT NULL, event_id text NOT NULL, side text NOT NULL, action text NOT NULL, "
        "limit_price_micros bigint NOT NULL, count double precision NOT NULL, tif text NOT NULL, "
        "reason text NOT NULL, group_id text",
    ),
    "fills": (
        "fill_id",
        "order_id text NOT NULL, account text NOT NULL, mode text NOT NULL, venue text NOT NULL, "
        "market_id text NOT NULL, event_id text NOT NULL, side text NOT NULL, action text NOT NULL, "
        "price_micros bigint NOT NULL, count double precision NOT NULL, fee_micros bigint NOT NULL, "
        "liquidity text NOT NULL, venue_fill_id text, reversed boolean NOT NULL",
    ),
    "order_statuses": (
        "status_id",
        "order_id text NOT NULL, account text NOT NULL, state text NOT NULL, filled_count double precision NOT NULL, "
        "remaining_count double precision NOT NULL, avg_price_micros bigint, reason text NOT NULL, venue_order_id text",
    ),
    "position_events": (
        "position_event_id",
        "position_id text NOT NULL, account text NOT NULL, status text NOT NULL, event_id text NOT NULL, "
        "venue text NOT NULL, market_id text NOT NULL, side text NOT NULL, quantity double precision NOT NULL, "
        "avg_price_micros bigint NOT NULL, mark_price_micros bigint, realized_pnl_micros bigint NOT NULL, "
        "unrealized_pnl_micros bigint NOT NULL, fees_micros bigint NOT NULL, reason text NOT NULL",
    ),
    "ledger_entries": (
        "entry_id",
        "account text NOT NULL, delta_micros bigint NOT NULL, balance_micros bigint NOT NULL, "
        "version bigint NOT NULL, reason text NOT NULL, ref text NOT NULL",
    ),
    "risk_events": (
        "risk_id",
        "account text NOT NULL, kind text NOT NULL, rule text NOT NULL, reason text NOT NULL, ref text NOT NULL, "
        "value double precision, limit_value double precision",
    ),
    "alerts": ("alert_id", "dedupe_key text NOT NULL, severity text NOT NULL, service text NOT NULL, message text NOT NULL"),
    "heartbeats": (
        "heartbeat_id",
        "service text NOT NULL, instance text NOT NULL, status text NOT NULL, lag bigint NOT NULL, detail jsonb NOT NULL",
    ),
    "dead_letters": (
        "dead_id",
        "topic text NOT NULL, partition integer NOT NULL, \"offset\" bigint NOT NULL, key bytea, value bytea NOT NULL, "
        "error text NOT NULL, error_type text NOT NULL, service text NOT NULL",
    ),
}

#: Compacted topics: one row per key, the latest version wins.
LATEST_TABLES: dict[str, str] = {
    "market_listings": (
        "listing_id text PRIMARY KEY, ts timestamptz NOT NULL, venue text NOT NULL, market_id text NOT NULL, "
        "group_id text NOT NULL, series text, title text NOT NULL, subtitle text NOT NULL, yes_outcome text NOT NULL, "
        "market_type text NOT NULL, league text, status text NOT NULL, open_ts timestamptz, close_ts timestamptz, "
        "settle_ts timestamptz, tick_micros bigint NOT NULL, taker_fee_rate double precision NOT NULL, "
        "maker_fee_rate double precision NOT NULL, fee_exponent double precision NOT NULL, "
        "min_order_size double precision NOT NULL, token_yes text, token_no text, neg_risk boolean NOT NULL, "
        "rules text NOT NULL, resolution_source text NOT NULL, result text"
    ),
    "market_links": (
        "venue text NOT NULL, market_id text NOT NULL, link_id text NOT NULL, ts timestamptz NOT NULL, "
        "event_id text NOT NULL, yes_role text NOT NULL, yes_entity text NOT NULL, confidence double precision NOT NULL, "
        "method text NOT NULL, league text, PRIMARY KEY (venue, market_id)"
    ),
}

SECONDARY_INDEXES: tuple[str, ...] = (
    "CREATE INDEX ix_event_states_event ON event_states (event_id, ts DESC)",
    "CREATE INDEX ix_plays_event ON plays (event_id, sequence)",
    "CREATE INDEX ix_quotes_market ON quotes (venue, market_id, ts DESC)",
    "CREATE INDEX ix_probabilities_event ON probabilities (event_id, ts DESC)",
    "CREATE INDEX ix_signals_event ON signals (event_id, ts DESC)",
    "CREATE INDEX ix_orders_account ON orders (account, ts DESC)",
    "CREATE INDEX ix_fills_order ON fills (order_id)",
    "CREATE INDEX ix_fills_account ON fills (account, ts DESC)",
    "CREATE INDEX ix_position_events_position ON position_events (position_id, ts DESC)",
    "CREATE INDEX ix_ledger_entries_account ON ledger_entries (account, version)",
)

BANKROLL = (
    """CREATE TABLE bankroll (
        account text PRIMARY KEY,
        balance_micros bigint NOT NULL,
        version bigint NOT NULL,
        updated_ts timestamptz NOT NULL
    )""",
    """CREATE TABLE bankroll_audit (
        audit_id bigserial PRIMARY KEY,
        account text NOT NULL,
        ts timestamptz NOT NULL,
        delta_micros bigint NOT NULL,
        balance_micros bigint NOT NULL,
        version bigint NOT NULL,
        reason text NOT NULL,
        ref text NOT NULL,
        UNIQUE (account, version)
    )""",
    # The audit trail is append-only: refuse updates and deletes at the database.
    """CREATE FUNCTION bankroll_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'bankroll_audit is append-only (% refused)', TG_OP;
    END $$""",
    """CREATE TRIGGER bankroll_audit_no_change BEFORE UPDATE OR DELETE ON bankroll_audit
        FOR EACH ROW EXECUTE FUNCTION bankroll_audit_append_only()""",
)

ARCHIVES = (
    """CREATE TABLE archived_games (
        event_id text PRIMARY KEY, league text NOT NULL, name text NOT NULL, start_ts timestamptz,
        final_ts timestamptz NOT NULL, score_a integer NOT NULL, score_b integer NOT NULL, winner text,
        final_state jsonb NOT NULL, archived_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE archived_trades (
        fill_id text PRIMARY KEY, order_id text NOT NULL, account text NOT NULL, event_id text NOT NULL,
        venue text NOT NULL, market_id text NOT NULL, side text NOT NULL, action text NOT NULL,
        price_micros bigint NOT NULL, count double precision NOT NULL, fee_micros bigint NOT NULL,
        ts timestamptz NOT NULL, realized_pnl_micros bigint, archived_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE archived_signals (
        signal_id text PRIMARY KEY, event_id text NOT NULL, kind text NOT NULL, ts timestamptz NOT NULL,
        edge double precision NOT NULL, legs jsonb NOT NULL, outcome text,
        archived_at timestamptz NOT NULL DEFAULT now()
    )""",
)


def upgrade() -> None:
    for table, (id_col, columns) in SUNK_TABLES.items():
        op.execute(
            f"CREATE TABLE {table} ({id_col} text NOT NULL, ts timestamptz NOT NULL, {columns}, {SOURCE}, "
            f"PRIMARY KEY ({id_col}, ts))"
        )
    for table, columns in LATEST_TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns}, {SOURCE})")
    for stmt in (*SECONDARY_INDEXES, *BANKROLL, *ARCHIVES):
        op.execute(stmt)
    op.execute(
        "CREATE TABLE sink_offsets (consumer text NOT NULL, topic text NOT NULL, partition integer NOT NULL, "
        "next_offset bigint NOT NULL, PRIMARY KEY (consumer, topic, partition))"
    )
    op.execute("CREATE TABLE arbees_meta (key text PRIMARY KEY, value text NOT NULL)")


def downgrade() -> None:
    tables = [
        "arbees_meta",
        "sink_offsets",
        "archived_signals",
        "archived_trades",
        "archived_games",
        "bankroll_audit",
        "bankroll",
        *LATEST_TABLES,
        *SUNK_TABLES,
    ]
    for table in tables:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP FUNCTION IF EXISTS bankroll_audit_append_only()")
