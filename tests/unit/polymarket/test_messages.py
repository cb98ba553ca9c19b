from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.polymarket.errors import BadPayload, LegacyPriceChange, UnknownMessageType
from connectors.polymarket.messages import (
    BestBidAskMsg,
    BookMsg,
    BookSide,
    LastTradeMsg,
    PriceChangeMsg,
    parse_ws_message,
    MAX_SIZE,
    split_frame,
    to_micros,
    to_size,
)

from .conftest import lines, load


def test_recorded_book_frames_parse_exactly() -> None:
    for text in lines("ws_market_book_frames.ndjson"):
        raw = json.loads(text)
        msg = parse_ws_message(raw)
        assert isinstance(msg, BookMsg)
        assert [lv.price_micros for lv in msg.bids] == [to_micros(b["price"]) for b in raw["bids"]]
        assert [lv.size for lv in msg.asks] == [Decimal(a["size"]) for a in raw["asks"]]
        assert msg.ts == int(raw["timestamp"]) and msg.hash == raw["hash"]
    first = parse_ws_message(json.loads(lines("ws_market_book_frames.ndjson")[0]))
    assert first.tick_micros == 10_000 and first.last_trade_micros == 870_000


def test_recorded_trades_and_best_bid_ask() -> None:
    trade = parse_ws_message(json.loads(lines("ws_market_last_trade_price_frames.ndjson")[0]))
    assert isinstance(trade, LastTradeMsg)
    assert (trade.price_micros, trade.size, trade.side, trade.fee_rate_bps) == (460_000, Decimal("0.2"), BookSide.ASK, 0)
    bba = parse_ws_message(load("ws_market_best_bid_ask.json"))
    assert isinstance(bba, BestBidAskMsg) and (bba.best_bid_micros, bba.best_ask_micros) == (730_000, 770_000)


def test_price_change_2025_schema_and_empty_side_markers() -> None:
    msg = parse_ws_message(load("ws_market_price_change_doc_example.json"))
    assert isinstance(msg, PriceChangeMsg) and msg.ts == 1757908892351
    yes, no = msg.changes
    assert (yes.side, yes.price_micros, yes.size) == (BookSide.BID, 500_000, Decimal(200))
    assert (yes.best_bid_micros, yes.best_ask_micros) == (500_000, None)  # "1" = no asks
    assert (no.best_bid_micros, no.best_ask_micros) == (None, 500_000)  # "0" = no bids


def test_legacy_flat_price_change_is_refused() -> None:
    with pytest.raises(LegacyPriceChange):
        parse_ws_message(load("ws_market_price_change_legacy_v1.json"))


def test_unknown_and_garbage_messages_are_refused() -> None:
    with pytest.raises(UnknownMessageType):
        parse_ws_message({"event_type": "mystery"})
    with pytest.raises(BadPayload):
        split_frame("{not json")
    with pytest.raises(BadPayload):
        parse_ws_message({"event_type": "book", "asset_id": "1", "market": "m", "timestamp": "1",
                          "bids": [{"price": "0.5"}], "asks": []})
    with pytest.raises(BadPayload):
        to_micros("1.5")
    with pytest.raises(BadPayload):
        to_micros("0.0000001")


def test_absurd_sizes_are_refused_not_rounded() -> None:
    """A recorded book frame with one size mutated to 10^30 (what `make fuzz` found: the normalizer's rounding raised
    decimal.InvalidOperation out of the feed); the largest real size still parses."""
    raw = json.loads(lines("ws_market_book_frames.ndjson")[0])
    biggest = max((lv for lv in raw["bids"] + raw["asks"]), key=lambda lv: Decimal(lv["size"]))
    mutated = {**raw, "bids": [{**raw["bids"][0], "size": 10**30}, *raw["bids"][1:]]}
    with pytest.raises(BadPayload, match="above"):
        parse_ws_message(mutated)
    assert to_size(biggest["size"]) == Decimal(biggest["size"])
    assert to_size(MAX_SIZE) == MAX_SIZE


def test_a_trade_with_a_garbled_fee_or_time_is_refused() -> None:
    """A recorded last_trade_price frame with its fee rate or timestamp mutated (`make fuzz` found the fee's
    ValueError escaping the feed); the recorded frame itself parses with its fee."""
    raw = json.loads(lines("ws_market_last_trade_price_frames.ndjson")[0])
    assert parse_ws_message(raw).fee_rate_bps == int(raw["fee_rate_bps"])
    for fee in ("x" * 300, -1, "1.5", 1e308, True, 10_001, "\u00b2"):  # "²": a digit to isdigit, not to int
        with pytest.raises(BadPayload, match="fee rate"):
            parse_ws_message({**raw, "fee_rate_bps": fee})
    for ts in (10**30, "-1"):
        with pytest.raises(BadPayload, match="timestamp"):
            parse_ws_message({**raw, "timestamp": ts})


def test_frames_may_be_arrays() -> None:
    assert len(split_frame('[{"a": 1}, {"b": 2}]')) == 2
    assert split_frame('{"a": 1}') == [{"a": 1}]
