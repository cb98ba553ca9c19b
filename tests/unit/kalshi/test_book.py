"""The local book: replay of a delta stream checked level by level, gaps and impossible deltas resync."""

from __future__ import annotations

import json

from connectors.kalshi.book import BookChanged, BookKeeper, Ignored, Resync
from connectors.kalshi.messages import BookDelta, BookSnapshot, parse_frame
from connectors.kalshi.normalize import book_to_quote
from connectors.kalshi.ws import DeadOut, QuoteOut, ResubscribeOut, WsProcessor
from schemas import depth
from tests.unit.kalshi.conftest import ndjson

A = "KXNFLGAME-25DEC27BALGB-GB"
B = "KXNFLGAME-25NOV27GBDET-GB"
SCRIPT = ndjson("ws_book_script.ndjson")
RECV = 1_766_869_000_000


def _replay(frames: list[str]) -> tuple[BookKeeper, list[object]]:
    keeper = BookKeeper()
    outcomes: list[object] = []
    for text in frames:
        msg = parse_frame(text)
        if isinstance(msg, BookSnapshot):
            outcomes.append(keeper.on_snapshot(msg, RECV))
        elif isinstance(msg, BookDelta):
            outcomes.append(keeper.on_delta(msg, msg.ts or RECV))
    return keeper, outcomes


def test_replayed_stream_ends_in_the_expected_book_level_by_level() -> None:
    keeper, outcomes = _replay(SCRIPT)
    assert all(isinstance(o, BookChanged) for o in outcomes) and len(outcomes) == 16
    a, b = keeper.book(A), keeper.book(B)
    assert a is not None and b is not None
    # worked by hand from ws_book_script.ndjson
    assert a.yes_bids() == [(620_000, 10_000), (610_000, 200_000), (590_000, 80_000), (580_000, 100_000), (570_000, 40_000)]
    assert a.no_bids() == [(370_000, 150_025), (350_000, 6_000)]
    assert b.yes_bids() == [(430_000, 1_000), (420_000, 6_300), (350_000, 20_000)]
    assert b.no_bids() == [(540_000, 40_000)]
    assert (a.seq, b.seq) == (16, 11)
    assert a.ts == 1766870580000  # the last delta's own event time, 2025-12-27T21:23:00Z


def test_quote_has_all_four_ladders_with_implied_asks() -> None:
    keeper, _ = _replay(SCRIPT)
    q = book_to_quote(keeper.book(A))  # type: ignore[arg-type]
    assert q.quote_id == f"KALSHI:{A}:1:16" and q.market_id == A and q.seq == 16
    assert (q.yes_bid_micros, q.yes_bid_size, q.yes_ask_micros, q.yes_ask_size) == (620_000, 100.0, 630_000, 1500.25)
    assert (q.no_bid_micros, q.no_bid_size, q.no_ask_micros, q.no_ask_size) == (370_000, 1500.25, 380_000, 100.0)
    book = depth.book_levels(q)
    assert book["yes_asks"] == [(630_000, 1500.25), (650_000, 60.0)]
    assert book["no_asks"] == [(380_000, 100.0), (390_000, 2000.0), (410_000, 800.0), (420_000, 1000.0), (430_000, 400.0)]
    assert book["yes_bids"][0] == (620_000, 100.0) and book["no_bids"] == [(370_000, 1500.25), (350_000, 60.0)]


def test_a_missing_sequence_number_drops_every_book_of_the_sid() -> None:
    gapped = SCRIPT[:6] + SCRIPT[7:]  # seq 7 lost in transit
    keeper, outcomes = _replay(gapped)
    resync = outcomes[6]
    assert isinstance(resync, Resync)
    assert resync.sid == 1 and resync.tickers == tuple(sorted((A, B)))
    assert "expected 7, got 8" in resync.reason
    assert keeper.book(A) is None and keeper.book(B) is None  # nothing stale is ever readable
    assert all(isinstance(o, Ignored) for o in outcomes[7:])  # the retired sid's later frames change nothing


def test_resubscription_snapshot_restores_a_correct_book() -> None:
    keeper, _ = _replay(SCRIPT[:6] + SCRIPT[7:])
    snap = json.loads(SCRIPT[0])
    snap.update(sid=7, seq=1)
    out = keeper.on_snapshot(parse_frame(json.dumps(snap)), RECV)  # type: ignore[arg-type]
    assert out == BookChanged(A, 7, 1)
    assert keeper.book(A).yes_bids()[0] == (610_000, 310_000)  # type: ignore[union-attr]
    assert keeper.book(B) is None


def test_doc_delta_on_an_absent_level_resyncs_instead_of_going_negative() -> None:
    doc = {json.loads(x).get("type"): x for x in ndjson("ws_doc_examples_asyncapi.ndjson")}
    keeper, outcomes = _replay([doc["orderbook_snapshot"], doc["orderbook_delta"]])
    assert isinstance(outcomes[1], Resync) and "would go to -54.00" in outcomes[1].reason
    assert keeper.book("FED-23DEC-T3.00") is None


def _delta(sid: int, seq: int, ticker: str, side: str, price: str, size: str) -> str:
    return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq,
                       "msg": {"market_ticker": ticker, "price_dollars": price, "delta_fp": size, "side": side}})


def test_a_delta_that_would_cross_the_book_resyncs() -> None:
    # best NO bid is 0.38: a YES bid at 0.62 would have traded against it, not rested
    keeper, outcomes = _replay(SCRIPT[:2] + [_delta(1, 3, A, "yes", "0.6200", "5.00")])
    assert isinstance(outcomes[-1], Resync) and "crossed" in outcomes[-1].reason
    assert keeper.book(A) is None


def test_a_delta_before_any_snapshot_resyncs() -> None:
    _, outcomes = _replay([_delta(3, 5, A, "yes", "0.5000", "1.00")])
    assert isinstance(outcomes[0], Resync) and outcomes[0].tickers == (A,)


def test_processor_turns_frames_into_quotes_dead_letters_and_resubscriptions() -> None:
    proc = WsProcessor()
    outs = [o for text in SCRIPT[:6] + SCRIPT[7:9] + ["garbage"] for o in proc.step(text, RECV)]
    quotes = [o for o in outs if isinstance(o, QuoteOut)]
    assert len(quotes) == 6 and quotes[0].quote.quote_id == f"KALSHI:{A}:1:1"
    resub = [o for o in outs if isinstance(o, ResubscribeOut)]
    assert len(resub) == 1 and set(resub[0].tickers) == {A, B}
    dead = [o for o in outs if isinstance(o, DeadOut)]
    assert len(dead) == 1 and dead[0].value == b"garbage"
