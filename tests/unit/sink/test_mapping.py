"""Record -> row mapping: every record type, against the migration's columns and real payloads."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import typing
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import pglast
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.sink import tables as t
from ops.sink.errors import UnstorableRecord
from ops.sink.mapping import MAPPERS, SourceRef, to_row, ts_to_datetime, yes_mid
from schemas import depth
from schemas.enums import Venue
from schemas.records import RECORD_TYPES, EventState, Quote, RawFeed, ShardInput
from tests.unit.schemas.strategies import records, strategy_for
from tests.unit.sink.samples import (
    BOOK_TS, GAME_TS, clob_quote, every_type, kalshi_listing, nba_finals_game, nfl_state,
)

VERSIONS = Path(__file__).resolve().parents[3] / "migrations" / "versions"
SRC = SourceRef("markets.quotes", 7, 123_456_789_012)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: columns that are not a field of the same name
RENAMED = {"limit_value": "limit"}
DERIVED = {("quotes", "yes_mid_micros"), ("quotes", "depth")}


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"m{name[:4]}", VERSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _column(elt: Any) -> tuple[str, str]:
    return elt.colname, elt.typeName.names[-1].sval


def _migration_columns() -> dict[str, list[tuple[str, str]]]:
    """(name, type) of every sunk table after the last migration, parsed from the migrations' own SQL:
    0001's CREATE statements, then the ADD COLUMNs of 0003 and later appended (where PostgreSQL puts them)."""
    m = _load("0001_tables")
    ddl = {name: f"CREATE TABLE {name} ({id_col} text NOT NULL, ts timestamptz NOT NULL, {cols}, {m.SOURCE})"
           for name, (id_col, cols) in m.SUNK_TABLES.items()}
    ddl.update({name: f"CREATE TABLE {name} ({cols}, {m.SOURCE})" for name, cols in m.LATEST_TABLES.items()})
    out: dict[str, list[tuple[str, str]]] = {}
    for name, sql in ddl.items():
        elts = pglast.parse_sql(sql)[0].stmt.tableElts
        out[name] = [_column(e) for e in elts if hasattr(e, "colname")]
    for stmt in (*_load("0003_more_columns").add_column_statements(), *_load("0004_fill_fee_computed").add_column_statements(),
                 *_load("0005_listing_lifecycle").add_column_statements(),
                 *_load("0006_resolution_rules").add_column_statements()):
        alter = pglast.parse_sql(stmt)[0].stmt
        if alter.relation.relname in out:  # bankroll_audit is the writer's, not a sunk table
            out[alter.relation.relname] += [_column(cmd.def_) for cmd in alter.cmds]
    return out


def test_table_specs_match_the_migrations_column_for_column() -> None:
    migration = _migration_columns()
    assert set(migration) == set(t.BY_TABLE)
    for name, cols in migration.items():
        spec = t.BY_TABLE[name]
        got = [(c.name, c.pgtype) for c in spec.columns]
        # same columns and types; the spec keeps each record's own order with the source last,
        # the table has 0003's and 0004's columns after the source: COPY and INSERT name every column
        assert sorted(got) == sorted(cols) and len(set(got)) == len(got), name
        assert got[-3:] == list(t.SOURCE_COLUMNS), name
        created = cols[: cols.index(t.SOURCE_COLUMNS[-1]) + 1]  # 0001's columns, in its order
        assert [c for c in got if c in created] == created, name


def test_ledger_entries_keep_every_version_of_an_entry() -> None:
    m = _load("0003_more_columns")
    assert t.LEDGER_ENTRIES.key == m.LEDGER_KEY_NEW == ("entry_id", "version", "ts")


def test_every_field_of_a_sunk_record_has_a_column() -> None:
    """No field is silently left out of the database (the gap 0003 closed)."""
    ladders = {"yes_bid_depth", "yes_ask_depth", "no_bid_depth", "no_ask_depth", "asks_implied"}  # all four in quotes.depth
    for cls, (table, _) in MAPPERS.items():
        columns = {RENAMED.get(c.name, c.name) for c in table.columns}
        missing = {f.name for f in dataclasses.fields(cls)} - columns - (ladders if cls is Quote else set())
        assert not missing, f"{cls.__name__} fields without a column in {table.name}: {sorted(missing)}"


def test_every_sunk_record_type_has_a_table_and_shard_inputs_is_not_sunk() -> None:
    assert set(MAPPERS) == set(RECORD_TYPES) - {ShardInput}
    assert {table for table, _ in MAPPERS.values()} == set(t.TABLES)
    with pytest.raises(UnstorableRecord, match="ShardInput has no table"):
        to_row(ShardInput(input_id="i", event_id="e", ts=1), SRC)


def test_latest_tables_key_on_what_the_topic_is_compacted_by() -> None:
    assert t.MARKET_LISTINGS.latest and t.MARKET_LISTINGS.key == ("listing_id",)
    assert t.MARKET_LINKS.latest and t.MARKET_LINKS.key == ("venue", "market_id")
    assert all(tbl.key == (tbl.columns[0].name, "ts") for tbl in t.TABLES
               if not tbl.latest and tbl is not t.LEDGER_ENTRIES)


# ------------------------------------------------------------------ generic round trip


def _logical(cls: type) -> dict[str, bool]:
    return {f.name: bool(f.metadata.get("logical")) for f in dataclasses.fields(cls)}


def _expected(record: Any, field: str, is_ts: bool) -> Any:
    v = getattr(record, field)
    if is_ts and v is not None:
        return EPOCH + timedelta(milliseconds=v)
    if isinstance(v, Enum):
        return v.value
    return v


def _assert_row_is_the_record(record: Any) -> None:
    row = to_row(record, SRC)
    table = row.table
    logical = _logical(type(record))
    assert row.values[-3:] == (SRC.topic, SRC.partition, SRC.offset)
    for col, value in zip(table.columns[:-3], row.values[:-3]):
        if (table.name, col.name) in DERIVED:
            continue
        field = RENAMED.get(col.name, col.name)
        if col.pgtype == t.JSONB:
            raw = getattr(record, field)
            decoded = None if value is None else json.loads(value)
            if isinstance(raw, list):  # nested records: objects with every field, enums as text
                assert decoded == [dataclasses.asdict(x) for x in raw]
            elif dataclasses.is_dataclass(raw):  # one nested record (MarketListing.resolution)
                assert decoded == {k: v.value if isinstance(v, Enum) else v for k, v in dataclasses.asdict(raw).items()}
            else:
                assert decoded == raw
        else:
            assert value == _expected(record, field, logical.get(field, False)), (table.name, col.name)
    if isinstance(record, Quote):  # the four ladders, implied asks derived, as [[price_micros, contracts], ...]
        stored = json.loads(dict(zip(table.column_names, row.values))["depth"])
        assert stored == {k: [list(lv) for lv in v] for k, v in depth.book_levels(record).items()}


def _stored_nul(record: Any) -> bool:
    """A NUL in a field that lands in a column (fields without a column are not stored)."""
    table, _ = MAPPERS[type(record)]
    names = {RENAMED.get(c.name, c.name) for c in table.columns}
    return any(_has_nul(getattr(record, n)) for n in names if hasattr(record, n))


def _bad_depth(record: Any) -> bool:
    """A packed depth ladder that is not pairs of int64 (schemas.depth)."""
    return isinstance(record, Quote) and any(
        len(getattr(record, n)) % 16 for n in ("yes_bid_depth", "yes_ask_depth", "no_bid_depth", "no_ask_depth"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if dataclasses.is_dataclass(value):
        return any(_has_nul(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _int4_overflow(record: Any) -> bool:
    table, _ = MAPPERS[type(record)]
    names = {c.name for c in table.columns if c.pgtype == t.INT4}
    vals = [getattr(record, n) for n in names if hasattr(record, n)]
    return any(v is not None and not -(2**31) <= v < 2**31 for v in vals)


@pytest.mark.parametrize("cls", sorted(MAPPERS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_record_maps_to_its_row_or_is_refused_for_a_real_reason(cls: type, data: st.DataObject) -> None:
    record = data.draw(records(cls))
    try:
        _assert_row_is_the_record(record)
    except UnstorableRecord:
        assert _stored_nul(record) or _int4_overflow(record) or _bad_depth(record), record


def _int4_safe(cls: type) -> st.SearchStrategy[Any]:
    """Like `records(cls)` but with int4 columns in range, so the mapped path is what gets exercised."""
    hints = typing.get_type_hints(cls)
    table, _ = MAPPERS[cls]
    int4 = {c.name for c in table.columns if c.pgtype == t.INT4}
    fields = {}
    for f in dataclasses.fields(cls):
        base = strategy_for(hints[f.name], f.metadata.get("logical"))
        if f.name in int4:
            small = st.integers(-(2**31), 2**31 - 1)
            base = st.none() | small if typing.get_origin(hints[f.name]) is not None else small
        fields[f.name] = base
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", [RawFeed, EventState], ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_records_with_storable_values_always_map(cls: type, data: st.DataObject) -> None:
    record = data.draw(_int4_safe(cls))
    if _stored_nul(record):
        with pytest.raises(UnstorableRecord, match="NUL"):
            to_row(record, SRC)
    else:
        _assert_row_is_the_record(record)


# ------------------------------------------------------------------ real payloads


def test_recorded_clob_book_becomes_a_quote_row_with_its_whole_ladder() -> None:
    q = clob_quote(3)
    row = to_row(q, SRC)
    cols = t.QUOTES.column_names
    got = dict(zip(cols, row.values))
    assert got["quote_id"] == q.quote_id and got["seq"] == 3
    assert got["ts"] == datetime(2026, 1, 4, 19, 24, 16, 218_000, tzinfo=timezone.utc)
    assert got["venue"] == "POLYMARKET"
    # the recorded book: 20 bids 0.01..0.49, 20 asks 0.51..0.99
    assert (got["yes_bid_micros"], got["yes_ask_micros"]) == (490_000, 510_000)
    assert got["yes_mid_micros"] == 500_000
    depth = json.loads(got["depth"])
    assert [len(depth[k]) for k in ("yes_bids", "yes_asks", "no_bids", "no_asks")] == [20, 20, 20, 20]
    assert depth["yes_bids"][0] == [490_000, 1028.0] and depth["no_bids"][0] == [490_000, 1028.0]
    assert depth["yes_asks"][-1] == [990_000, 2147.0]
    assert depth["no_asks"][-1] == [990_000, 2152.0]
    assert got["source"] == "polymarket.rest"


def test_recorded_kalshi_market_becomes_a_listing_row() -> None:
    lst = kalshi_listing()
    got = dict(zip(t.MARKET_LISTINGS.column_names, to_row(lst, SRC).values))
    assert got["listing_id"] == lst.listing_id and got["market_id"] == "KXNFLGAME-25DEC27BALGB-GB"
    assert got["venue"] == "KALSHI" and got["market_type"] == lst.market_type.value
    assert got["close_ts"] == ts_to_datetime(lst.close_ts) and got["close_ts"] is not None
    assert got["tick_micros"] == lst.tick_micros
    # the market's price_ranges: one band, a cent tick over the whole range
    assert json.loads(got["tick_bands"]) == [{"start_micros": 0, "end_micros": 1_000_000, "step_micros": 10_000}]


def test_recorded_espn_state_becomes_an_event_state_row() -> None:
    s = nfl_state()
    got = dict(zip(t.EVENT_STATES.column_names, to_row(s, SRC).values))
    assert got["event_id"] == "espn:nfl:401772899" and got["status"] == "LIVE" and got["market_type"] == "SPORT"
    assert (got["score_a"], got["score_b"], got["down"], got["distance"]) == (s.score_a, s.score_b, 1, 10)
    assert got["ts"] == datetime(2025, 12, 7, 19, 0, tzinfo=timezone.utc)
    assert json.loads(got["features"]) == s.features
    # ESPN's team ids and abbreviations (home is entity a)
    assert (got["entity_a_id"], got["entity_a_abbr"], got["entity_b_id"], got["entity_b_abbr"]) == ("16", "MIN", "28", "WSH")


def test_recorded_nba_game_plays_keep_their_points() -> None:
    game = nba_finals_game()
    rows = [dict(zip(t.PLAYS.column_names, to_row(p, SRC).values)) for p in game.plays]
    assert len(rows) == 498
    points: dict[str, int] = {}
    for row in rows:
        if row["scoring_play"]:
            points[row["team_id"]] = points.get(row["team_id"], 0) + row["score_value"]
    # the stored points of each side add up to the final score: 107-106 for New York (id 18, home)
    assert points == {game.state.entity_a_id: 107, game.state.entity_b_id: 106} and game.state.entity_a_id == "18"
    assert {r["score_value"] for r in rows if r["scoring_play"]} == {1, 2, 3}
    last = rows[-1] if rows[-1]["scoring_play"] else next(r for r in reversed(rows) if r["scoring_play"])
    assert (last["text"], last["score_value"], json.loads(last["features"])) == ("OG Anunoby makes tip shot", 2, {})


def test_every_sample_record_maps_and_carries_its_source() -> None:
    rows = [to_row(r, SRC) for r in every_type("u")]
    assert {row.table.name for row in rows} == {tbl.name for tbl in t.TABLES} - {"dead_letters"}
    assert all(row.values[-3:] == ("markets.quotes", 7, 123_456_789_012) for row in rows)


# ------------------------------------------------------------------ conversions and refusals


def test_ts_is_exact_to_the_millisecond_and_refused_beyond_a_timestamptz() -> None:
    assert ts_to_datetime(GAME_TS) == datetime(2025, 12, 7, 19, 0, tzinfo=timezone.utc)
    assert ts_to_datetime(BOOK_TS + 1) - ts_to_datetime(BOOK_TS) == timedelta(milliseconds=1)  # type: ignore[operator]
    assert ts_to_datetime(None) is None
    with pytest.raises(UnstorableRecord, match="timestamptz"):
        ts_to_datetime(2**62)


def test_yes_mid_needs_both_sides_and_floors_half_micros() -> None:
    assert yes_mid(450_000, 470_001) == 460_000
    assert yes_mid(None, 470_000) is None and yes_mid(450_000, None) is None


def test_non_finite_floats_in_maps_become_float8_text() -> None:
    s = EventState(state_id="s", event_id="e", ts=1, features={"nan": float("nan"), "up": float("inf"), "x": 1.5})
    got = dict(zip(t.EVENT_STATES.column_names, to_row(s, SRC).values))
    assert json.loads(got["features"]) == {"nan": "NaN", "up": "Infinity", "x": 1.5}


def test_nul_characters_and_oversized_ints_are_refused_with_the_column_named() -> None:
    with pytest.raises(UnstorableRecord, match=r"raw_feeds\.body"):
        to_row(RawFeed(raw_id="r", ts=1, body="a\x00b"), SRC)
    with pytest.raises(UnstorableRecord, match="NUL"):
        to_row(RawFeed(raw_id="r", ts=1, params={"k": "\x00"}), SRC)
    with pytest.raises(UnstorableRecord, match=r"event_states\.score_a \(int4\)"):
        to_row(EventState(state_id="s", event_id="e", ts=1, score_a=2**31), SRC)
    with pytest.raises(UnstorableRecord, match=r"quotes\.yes_bid_micros \(int8\)"):
        to_row(Quote(quote_id="q", venue=Venue.KALSHI, market_id="m", ts=1, yes_bid_micros=2**63), SRC)


def test_the_sinks_retention_interval_comes_from_the_flag_or_the_environment(monkeypatch: Any) -> None:
    """`make chaos` replays a months-old session: its sinks run with ARBEES_SINK_RETENTION_EVERY_S=0, or a restarted
    sink's first retention pass (plain PostgreSQL) deletes the rows the chaos check then finds lost."""
    from ops.sink.__main__ import parse_args

    base = ["--bootstrap", "b:1", "--database-url", "postgresql://x/y"]
    monkeypatch.delenv("ARBEES_SINK_RETENTION_EVERY_S", raising=False)
    assert parse_args(base)[0].retention_every_s == 3600.0
    monkeypatch.setenv("ARBEES_SINK_RETENTION_EVERY_S", "0")
    assert parse_args(base)[0].retention_every_s == 0.0
    assert parse_args([*base, "--retention-every", "60"])[0].retention_every_s == 60.0
