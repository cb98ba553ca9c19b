"""Typed dispatch of recorded websocket frames; unknown types and garbage are refused, never guessed."""

from __future__ import annotations

import json

import pytest

from connectors.kalshi.errors import BadPayload
from connectors.kalshi.messages import (
    BookDelta,
    BookSnapshot,
    PublicTrade,
    Subscribed,
    TickerUpdate,
    MarketLifecycle,
    UnknownMessageType,
    parse_frame,
)
from schemas.enums import Side
from tests.unit.kalshi.conftest import ndjson

DOC = {json.loads(line).get("type", "command"): line for line in ndjson("ws_doc_examples_asyncapi.ndjson")}


def test_doc_snapshot_parses_both_sides_exactly() -> None:
    snap = parse_frame(DOC["orderbook_snapshot"])
    assert isinstance(snap, BookSnapshot)
    assert (snap.sid, snap.seq, snap.ticker) == (2, 2, "FED-23DEC-T3.00")
    assert snap.yes == ((80_000, 30_000), (220_000, 33_300))
    assert snap.no == ((540_000, 2_000), (560_000, 14_600))


def test_doc_delta_parses_three_decimal_price_and_signed_size() -> None:
    d = parse_frame(DOC["orderbook_delta"])
    assert isinstance(d, BookDelta)
    assert (d.sid, d.seq, d.side, d.price_micros, d.delta_centi) == (2, 3, Side.YES, 960_000, -5_400)
    assert d.ts == 1669149841000  # 2022-11-22T20:44:01Z


def test_subscribed_ticker_and_trade() -> None:
    sub = parse_frame(DOC["subscribed"])
    assert sub == Subscribed(id=1, channel="orderbook_delta", sid=1)
    t = parse_frame(DOC["ticker"])
    assert isinstance(t, TickerUpdate) and t.yes_bid_micros == 450_000 and t.yes_ask_micros == 530_000 and t.ts == 1669149841000
    tr = parse_frame(DOC["trade"])
    assert isinstance(tr, PublicTrade) and tr.count_centi == 13_600 and tr.taker_side is Side.NO
    assert tr.yes_price_micros + tr.no_price_micros == 1_000_000


def test_every_recorded_live_ticker_frame_parses() -> None:
    frames = [parse_frame(line) for line in ndjson("ws_ticker_frames.ndjson")]
    assert len(frames) == 10 and all(isinstance(f, TickerUpdate) for f in frames)
    first = frames[0]
    assert first.ticker == "KXXRP-26FEB1317-B1.3899500"
    assert (first.yes_bid_micros, first.yes_ask_micros, first.yes_bid_size_centi, first.yes_ask_size_centi) == (40_000, 950_000, 1_400, 8_400)


def test_every_recorded_live_trade_frame_parses() -> None:
    trades = [parse_frame(line) for line in ndjson("ws_trade_frames.ndjson")]
    assert all(isinstance(t, PublicTrade) for t in trades)
    assert [t.seq for t in trades][:3] == [10, 48, 49]
    assert sum(t.count_centi for t in trades) == (75 + 90 + 100 + 90 + 26 + 41 + 83 + 26 + 88 + 167) * 100
    assert all(t.yes_price_micros + t.no_price_micros == 1_000_000 for t in trades)


def test_market_lifecycle_doc_example_parses() -> None:
    msg = parse_frame(DOC["market_lifecycle_v2"])
    assert isinstance(msg, MarketLifecycle)
    assert (msg.sid, msg.ticker, msg.event_type, msg.result) == (13, "INXD-23SEP14-B4487", "created", "")


@pytest.mark.parametrize("kind", ["fill", "user_order", "market_position", "command"])
def test_unhandled_types_are_refused(kind: str) -> None:
    with pytest.raises(UnknownMessageType):
        parse_frame(DOC[kind])


@pytest.mark.parametrize(
    "frame",
    [
        "not json{",
        "[1,2]",
        '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"X","price_dollars":"1.0000","delta_fp":"1.00","side":"yes"}}',
        '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"X","price_dollars":"0.5000","delta_fp":"1.00","side":"maybe"}}',
        '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"X","price_dollars":"0.5000","side":"yes"}}',
        '{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"X","yes_dollars_fp":[["0.5000","0.00"]]}}',
        '{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"X","yes_dollars_fp":[["0.5000","1.00"],["0.5000","2.00"]]}}',
        '{"type":"orderbook_snapshot","sid":"1","seq":1,"msg":{"market_ticker":"X"}}',
    ],
)
def test_garbage_is_bad_payload(frame: str) -> None:
    with pytest.raises(BadPayload):
        parse_frame(frame)


def test_legacy_cent_levels_are_read_when_fixed_point_is_absent() -> None:
    frame = '{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":"FED-23DEC-T3.00","yes":[[8,300],[22,333]],"no":[[54,20]]}}'
    snap = parse_frame(frame)
    assert isinstance(snap, BookSnapshot)
    assert snap.yes == ((80_000, 30_000), (220_000, 33_300)) and snap.no == ((540_000, 2_000),)
