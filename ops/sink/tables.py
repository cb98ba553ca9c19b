"""The sink's view of the database contract: every sunk table, its columns in order, its natural key.

Mirrors the migrations column for column (`0001_tables.py` creates the tables,
`0003_more_columns.py` adds columns; a unit test parses both and compares, an
integration test reads the migrated catalog), so the writer can build COPY and INSERT statements
without asking the database, and the mapping can check each value against the
column type it will land in before PostgreSQL refuses a whole batch for it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Column types the sink writes (PostgreSQL canonical names).
TEXT, INT4, INT8, FLOAT8, BOOL, TIMESTAMPTZ, JSONB, BYTEA = (
    "text", "int4", "int8", "float8", "bool", "timestamptz", "jsonb", "bytea",
)

SOURCE_COLUMNS: tuple[tuple[str, str], ...] = (("src_topic", TEXT), ("src_partition", INT4), ("src_offset", INT8))


@dataclass(frozen=True)
class Column:
    name: str
    pgtype: str

    @property
    def quoted(self) -> str:
        """The name as SQL: `offset` is a reserved word."""
        return f'"{self.name}"'


@dataclass(frozen=True)
class TableSpec:
    """One sunk table. `latest` tables keep one row per key and take a row only if its ts is newer."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    latest: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def column_list(self) -> str:
        return ", ".join(c.quoted for c in self.columns)

    @property
    def key_list(self) -> str:
        return ", ".join(f'"{k}"' for k in self.key)


def _spec(name: str, id_col: str | None, cols: str, key: tuple[str, ...] | None = None, latest: bool = False) -> TableSpec:
    """`cols` is "name:type name:type ..."; append tables start with (id, ts) and all end with the source."""
    body = [tuple(c.split(":")) for c in cols.split()]
    head = [(id_col, TEXT), ("ts", TIMESTAMPTZ)] if id_col else []
    columns = tuple(Column(n, t) for n, t in (*head, *body, *SOURCE_COLUMNS))
    return TableSpec(name, columns, key or (str(id_col), "ts"), latest)


RAW_FEEDS = _spec(
    "raw_feeds", "raw_id",
    "source:text endpoint:text url:text params:jsonb status:int4 fetched_at:timestamptz body:text",
)
EVENT_STATES = _spec(
    "event_states", "state_id",
    "event_id:text source:text market_type:text league:text name:text status:text start_ts:timestamptz "
    "entity_a:text entity_b:text entity_a_id:text entity_b_id:text entity_a_abbr:text entity_b_abbr:text score_a:int4 score_b:int4 period:int4 clock_seconds:float8 possession:text "
    "down:int4 distance:int4 yard_line:int4 spread_a:float8 total:float8 winner:text features:jsonb",
)
PLAYS = _spec(
    "plays", "play_id",
    "event_id:text league:text sequence:int4 period:int4 clock_seconds:float8 team_id:text play_type:text "
    "text:text score_a:int4 score_b:int4 scoring_play:bool score_value:int4 source_home_win_prob:float8 features:jsonb",
)
QUOTES = _spec(
    "quotes", "quote_id",
    "venue:text market_id:text seq:int8 yes_bid_micros:int8 yes_bid_size:float8 yes_ask_micros:int8 "
    "yes_ask_size:float8 no_bid_micros:int8 no_bid_size:float8 no_ask_micros:int8 no_ask_size:float8 "
    "yes_mid_micros:int8 depth:jsonb source:text",
)
PROBABILITIES = _spec(
    "probabilities", "prob_id",
    "event_id:text outcomes:jsonb model:text version:text inputs_digest:text state_id:text",
)
SIGNALS = _spec(
    "signals", "signal_id",
    "event_id:text kind:text legs:jsonb model_p:float8 edge:float8 ev_micros:int8 size:float8 model:text trigger:text "
    "reason:text",
)
ORDERS = _spec(
    "orders", "order_id",
    "account:text signal_id:text mode:text venue:text market_id:text event_id:text side:text action:text "
    "limit_price_micros:int8 count:float8 tif:text reason:text group_id:text model_p:float8",
)
FILLS = _spec(
    "fills", "fill_id",
    "order_id:text account:text mode:text venue:text market_id:text event_id:text side:text action:text "
    "price_micros:int8 count:float8 fee_micros:int8 liquidity:text venue_fill_id:text reversed:bool "
    "fee_computed:bool",
)
ORDER_STATUSES = _spec(
    "order_statuses", "status_id",
    "order_id:text account:text state:text filled_count:float8 remaining_count:float8 avg_price_micros:int8 "
    "reason:text venue_order_id:text",
)
POSITION_EVENTS = _spec(
    "position_events", "position_event_id",
    "position_id:text account:text status:text event_id:text venue:text market_id:text side:text quantity:float8 "
    "avg_price_micros:int8 mark_price_micros:int8 realized_pnl_micros:int8 unrealized_pnl_micros:int8 "
    "fees_micros:int8 reason:text",
)
LEDGER_ENTRIES = _spec(
    "ledger_entries", "entry_id",
    "account:text delta_micros:int8 balance_micros:int8 version:int8 reason:text ref:text",
    key=("entry_id", "version", "ts"),  # a refused entry is rebuilt under its id at a new version: keep both
)
RISK_EVENTS = _spec(
    "risk_events", "risk_id",
    "account:text kind:text rule:text reason:text ref:text value:float8 limit_value:float8",
)
ALERTS = _spec("alerts", "alert_id", "dedupe_key:text severity:text service:text message:text")
HEARTBEATS = _spec(
    "heartbeats", "heartbeat_id", "service:text instance:text status:text lag:int8 detail:jsonb",
)
DEAD_LETTERS = _spec(
    "dead_letters", "dead_id",
    "topic:text partition:int4 offset:int8 key:bytea value:bytea error:text error_type:text service:text",
)
MARKET_LISTINGS = _spec(
    "market_listings", None,
    "listing_id:text ts:timestamptz venue:text market_id:text group_id:text series:text title:text subtitle:text "
    "yes_outcome:text market_type:text league:text status:text open_ts:timestamptz close_ts:timestamptz "
    "settle_ts:timestamptz tick_micros:int8 tick_bands:jsonb taker_fee_rate:float8 maker_fee_rate:float8 fee_exponent:float8 "
    "min_order_size:float8 token_yes:text token_no:text neg_risk:bool rules:text resolution_source:text result:text "
    "lifecycle:text settlement_micros:int8 resolution:jsonb",
    key=("listing_id",), latest=True,
)
MARKET_LINKS = _spec(
    "market_links", None,
    "venue:text market_id:text link_id:text ts:timestamptz event_id:text yes_role:text yes_entity:text "
    "confidence:float8 method:text league:text",
    key=("venue", "market_id"), latest=True,
)

TABLES: tuple[TableSpec, ...] = (
    RAW_FEEDS, EVENT_STATES, PLAYS, QUOTES, PROBABILITIES, SIGNALS, ORDERS, FILLS, ORDER_STATUSES,
    POSITION_EVENTS, LEDGER_ENTRIES, RISK_EVENTS, ALERTS, HEARTBEATS, DEAD_LETTERS, MARKET_LISTINGS, MARKET_LINKS,
)
BY_TABLE: dict[str, TableSpec] = {t.name: t for t in TABLES}
