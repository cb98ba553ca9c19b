"""Packed depth: one bytes value per ladder, Kalshi's asks derived from its bids in one place,
and quotes written with the old per-level ladders still decode with their depth."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from fastavro import parse_schema, schemaless_writer

from connectors.kalshi.normalize import book_to_quote, rest_orderbook_to_book
from schemas import depth
from schemas.avro import plain_schema
from schemas.codec import default_codec
from schemas.enums import Action, Side, Venue
from schemas.records import Quote, ShardInput
from schemas.registry import LocalRegistry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def clob_levels() -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Bids (best first) and asks (best first) of the recorded CLOB book."""
    book = json.loads((FIXTURES / "contract" / "clob_book_2026-01-04.json").read_text())
    bids = sorted(((round(float(b["price"]) * 1e6), float(b["size"])) for b in book["bids"]), key=lambda lv: -lv[0])
    asks = sorted((round(float(a["price"]) * 1e6), float(a["size"])) for a in book["asks"])
    return bids, asks


def kalshi_quote() -> Quote:
    payload = json.loads((FIXTURES / "kalshi" / "orderbook_handwritten_fixture.json").read_text())
    return book_to_quote(rest_orderbook_to_book(payload, "KXNFLGAME-25NOV27GBDET-GB", 1_765_134_000_000))


def test_pack_round_trips_prices_and_hundredths_as_int64_views() -> None:
    bids, _ = clob_levels()
    packed = depth.pack_levels(bids)
    assert len(packed) == 16 * len(bids)
    prices, c100 = depth.unpack(packed)
    assert prices.dtype == np.dtype("<i8") and not prices.flags.writeable
    assert prices[0] == 490_000 and c100[0] == 102_800  # 0.49 × 1028 contracts
    assert depth.levels(packed) == bids
    assert depth.unpack(b"")[0].size == 0


def test_a_packed_ladder_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="pairs of int64"):
        depth.unpack(b"\x00" * 24)
    with pytest.raises(ValueError, match="as many sizes"):
        depth.pack([1, 2], [3])


def test_kalshi_carries_bids_once_and_asks_are_their_complement() -> None:
    """The recorded-shape Kalshi book: YES bids 0.42×13, 0.35×200; NO bids 0.56×17, 0.54×400."""
    q = kalshi_quote()
    assert q.asks_implied and q.yes_ask_depth == b"" and q.no_ask_depth == b""
    yes_ask_p, yes_ask_c = depth.ladder(q, Side.YES, Action.BUY)
    assert (yes_ask_p.tolist(), yes_ask_c.tolist()) == ([440_000, 460_000], [1_700, 40_000])
    no_ask_p, _ = depth.ladder(q, Side.NO, Action.BUY)
    assert no_ask_p.tolist() == [580_000, 650_000]
    assert depth.ladder(q, Side.YES, Action.SELL)[0].tolist() == [420_000, 350_000]
    # the top-of-book fields agree with the derived ladders
    assert (q.yes_ask_micros, q.yes_ask_size, q.no_ask_micros) == (440_000, 17.0, 580_000)


def test_a_quote_without_depth_is_its_top_of_book() -> None:
    q = Quote("q", Venue.POLYMARKET, "m", ts=1, yes_ask_micros=510_000, yes_ask_size=3.5)
    p, c = depth.ladder(q, Side.YES, Action.BUY)
    assert (p.tolist(), c.tolist()) == ([510_000], [350])
    assert depth.ladder(q, Side.NO, Action.BUY)[0].size == 0


def _old_frame(schema_id: int, datum: dict) -> bytes:
    schema = LocalRegistry().schema_for(schema_id).schema
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    schemaless_writer(buf, parse_schema(plain_schema(schema)), datum)
    return buf.getvalue()


def _old_quote(bids: list[tuple[int, float]], asks: list[tuple[int, float]]) -> dict:
    as_levels = lambda lv: [{"price_micros": p, "size": s} for p, s in lv]  # noqa: E731
    return {"quote_id": "old", "venue": "POLYMARKET", "market_id": "m", "ts": 7, "seq": 1,
            "yes_bid_micros": bids[0][0], "yes_bid_size": bids[0][1], "yes_ask_micros": asks[0][0],
            "yes_ask_size": asks[0][1], "no_bid_micros": None, "no_bid_size": 0.0, "no_ask_micros": None,
            "no_ask_size": 0.0, "yes_bids": as_levels(bids), "yes_asks": as_levels(asks), "no_bids": [],
            "no_asks": [], "source": "polymarket.rest"}


def test_quotes_written_with_level_records_decode_with_their_depth_packed() -> None:
    """Schema id 6 (Quote) and 7 (ShardInput) are the first released versions, with `Level` arrays:
    plain resolution would drop their depth; the codec packs it instead."""
    bids, asks = clob_levels()
    q = default_codec().decode(_old_frame(6, _old_quote(bids, asks)))
    assert isinstance(q, Quote) and depth.levels(q.yes_bid_depth) == bids and depth.levels(q.yes_ask_depth) == asks
    assert q.no_bid_depth == b"" and not q.asks_implied
    wrapped = {"input_id": "i", "event_id": "e", "ts": 7, "state": None, "quote": _old_quote(bids, asks),
               "link": None, "listing": None}
    si = default_codec().decode(_old_frame(7, wrapped))
    assert isinstance(si, ShardInput) and si.quote is not None and depth.levels(si.quote.yes_ask_depth) == asks
