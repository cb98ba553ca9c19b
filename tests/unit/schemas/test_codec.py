"""The wire codec: round trips, framing, and errors that name what is wrong."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import depth
from schemas.codec import Codec, default_codec
from schemas.enums import EventStatus, MarketType, Side, Venue
from schemas.errors import DecodeError, SchemaViolation
from schemas.records import RECORD_TYPES, EventState, MarketListing, Quote, ShardInput, TickBand
from schemas.registry import REGISTRY_FILE
from tests.unit.schemas.strategies import records

ANY_RECORD = st.one_of([records(cls) for cls in RECORD_TYPES])
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@settings(max_examples=300, deadline=None)
@given(ANY_RECORD)
def test_every_record_type_round_trips(record: object) -> None:
    codec = default_codec()
    assert codec.decode(codec.encode(record)) == record


def test_frame_is_confluent_wire_format() -> None:
    codec = default_codec()
    data = codec.encode(Quote("q", Venue.KALSHI, "M", ts=1))
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == codec.schema_id(Quote)


def _kalshi_listing() -> MarketListing:
    """A listing filled straight from the recorded Kalshi market payload."""
    market = json.loads((FIXTURES / "contract" / "kalshi_market_KXNFLGAME.json").read_text())["markets"][0]
    return MarketListing(
        listing_id=f"KALSHI:{market['ticker']}",
        venue=Venue.KALSHI,
        market_id=market["ticker"],
        ts=1_766_534_400_000,
        group_id=market["event_ticker"],
        title=market["title"],
        yes_outcome=market["yes_sub_title"],
        market_type=MarketType.SPORT,
        league="nfl",
        status=market["status"],
        tick_micros=int(market["tick_size"]) * 10_000,
        tick_bands=[TickBand(0, 1_000_000, 10_000)],
        taker_fee_rate=0.07,
        rules=market["rules_primary"],
    )


def test_recorded_payload_shapes_round_trip() -> None:
    codec = default_codec()
    listing = _kalshi_listing()
    assert codec.decode(codec.encode(listing)) == listing
    book = json.loads((FIXTURES / "contract" / "clob_book_2026-01-04.json").read_text())
    bids = sorted(book["bids"], key=lambda lv: -float(lv["price"]))
    asks = sorted(book["asks"], key=lambda lv: float(lv["price"]))
    quote = Quote(
        quote_id=f"POLYMARKET:{book['asset_id']}:{book['timestamp']}",
        venue=Venue.POLYMARKET,
        market_id=book["market"],
        ts=int(book["timestamp"]),
        yes_bid_micros=round(float(bids[0]["price"]) * 1e6),
        yes_bid_size=float(bids[0]["size"]),
        yes_ask_micros=round(float(asks[0]["price"]) * 1e6),
        yes_ask_size=float(asks[0]["size"]),
        yes_bid_depth=depth.pack_levels((round(float(lv["price"]) * 1e6), float(lv["size"])) for lv in bids),
        yes_ask_depth=depth.pack_levels((round(float(lv["price"]) * 1e6), float(lv["size"])) for lv in asks),
    )
    wrapped = ShardInput("i1", "espn:nfl:1", ts=quote.ts, quote=quote)
    assert codec.decode(codec.encode(wrapped)) == wrapped


def test_encoding_a_bad_record_names_type_and_field() -> None:
    bad = EventState("s", "e", ts=1, score_a="three")  # type: ignore[arg-type]
    with pytest.raises(SchemaViolation) as err:
        default_codec().encode(bad)
    assert err.value.record_type == "EventState"
    assert err.value.field == "score_a"
    assert "EventState.score_a" in str(err.value)


def test_encoding_a_bad_enum_names_the_field() -> None:
    bad = EventState("s", "e", ts=1, status="NOT_A_STATUS")  # type: ignore[arg-type]
    with pytest.raises(SchemaViolation) as err:
        default_codec().encode(bad)
    assert err.value.field == "status"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00", b"{\"json\": true}", b"\x00\x00\x00\x00\x02\xff\xff\xff", b"\x00\x00\x00\xff\xffabc", b"\x01\x00\x00\x00\x02abc"],
)
def test_decoding_garbage_raises_a_typed_error(garbage: bytes) -> None:
    with pytest.raises(DecodeError):
        default_codec().decode(garbage)


def test_plain_confluent_consumer_decodes_with_only_the_registry() -> None:
    """Resolve the id through registry.json and read the body with bare fastavro: no Arbees code."""
    record = EventState(
        "s1", "espn:nba:1", ts=1_700_000_000_000, league="nba", status=EventStatus.LIVE,
        score_a=50, score_b=48, features={"espn_home_wp": 0.61},
    )
    data = Codec().encode(record)
    registry = {e["id"]: json.loads(e["schema"]) for e in json.loads(REGISTRY_FILE.read_text())["schemas"]}
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    plain = schemaless_reader(io.BytesIO(data[5:]), parse_schema(registry[schema_id]))
    assert plain["event_id"] == "espn:nba:1"
    assert plain["status"] == "LIVE"
    assert plain["score_a"] == 50 and plain["features"] == {"espn_home_wp": 0.61}


def test_decoded_enums_and_nested_records_are_typed() -> None:
    q = Quote("q", Venue.POLYMARKET, "m", ts=5, yes_bid_depth=depth.pack_levels([(10_000, 2.0)]))
    back = default_codec().decode(default_codec().encode(q))
    assert back.venue is Venue.POLYMARKET
    assert back.yes_bid_depth == q.yes_bid_depth and depth.levels(back.yes_bid_depth) == [(10_000, 2.0)]
    listing = MarketListing("POLYMARKET:x", Venue.POLYMARKET, "x", ts=1, result=Side.NO)
    assert default_codec().decode(default_codec().encode(listing)).result is Side.NO
