from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.polymarket.book import BookState, LocalBook
from connectors.polymarket.errors import BookNotReady, ResyncRequired
from connectors.polymarket.messages import (
    BookMsg,
    PriceChangeMsg,
    TickSizeChangeMsg,
    parse_book,
    parse_ws_message,
    split_frame,
)
from connectors.polymarket.simulator import mirror_book

from .conftest import ETH15_NO, ETH15_YES, lines, load


def _books() -> tuple[LocalBook, LocalBook]:
    yes_raw = load("clob_book_2026-01-04.json")
    yes = LocalBook(ETH15_YES, yes_raw["market"])
    no = LocalBook(ETH15_NO, yes_raw["market"])
    yes.apply_snapshot(parse_book(yes_raw), from_rest=True)
    no.apply_snapshot(parse_book(mirror_book(yes_raw, ETH15_NO)), from_rest=True)
    return yes, no


def test_recorded_book_frames_rebuild_level_by_level() -> None:
    for text in lines("ws_market_book_frames.ndjson"):
        raw = json.loads(text)
        book = LocalBook(raw["asset_id"], raw["market"])
        book.apply_snapshot(parse_book(raw), from_rest=False)
        view = book.view()
        expected_bids = sorted(((int(Decimal(b["price"]) * 10**6), Decimal(b["size"])) for b in raw["bids"]), reverse=True)
        expected_asks = sorted((int(Decimal(a["price"]) * 10**6), Decimal(a["size"])) for a in raw["asks"])
        assert list(view.bids) == expected_bids
        assert list(view.asks) == expected_asks


def test_rest_book_is_sorted_best_first() -> None:
    yes, _ = _books()
    view = yes.view()
    assert view.bids[0] == (490_000, Decimal(1028)) and view.bids[-1] == (10_000, Decimal(2152))
    assert view.asks[0] == (510_000, Decimal(1028)) and view.asks[-1] == (990_000, Decimal(2147))


def _replay(yes: LocalBook, no: LocalBook) -> list[str]:
    """Apply the scripted stream; on a resync, rebuild from the true book as the venue would serve it."""
    books = {ETH15_YES: yes, ETH15_NO: no}
    resyncs = []
    for text in lines("scripted_eth15m_stream.ndjson"):
        try:
            items = split_frame(text)
        except Exception:
            continue
        for item in items:
            try:
                msg = parse_ws_message(item)
            except Exception:
                continue
            if isinstance(msg, PriceChangeMsg):
                for ch in msg.changes:
                    try:
                        books[ch.asset_id].apply_change(ch, msg.ts)
                    except ResyncRequired as exc:
                        resyncs.append(exc.reason)
            elif isinstance(msg, TickSizeChangeMsg):
                books[msg.asset_id].apply_tick_size(msg)
            elif isinstance(msg, BookMsg):
                books[msg.asset_id].apply_snapshot(msg, from_rest=False)
    return resyncs


def test_out_of_order_update_forces_resync_and_empties_the_book() -> None:
    yes, no = _books()
    resyncs = _replay(yes, no)
    assert len(resyncs) == 2 and all("out of order" in r for r in resyncs)
    assert yes.state is BookState.RESYNCING and no.state is BookState.RESYNCING
    with pytest.raises(BookNotReady):
        yes.view()  # no wrong book can be read


def test_changes_buffered_during_resync_replay_after_rest_snapshot() -> None:
    yes, _ = _books()
    frames = [parse_ws_message(json.loads(t)) for t in lines("scripted_eth15m_stream.ndjson")[:5]]
    change_100, change_300, late_250 = frames[0], frames[3], frames[4]
    yes.apply_change(change_100.changes[0], change_100.ts)
    yes.apply_change(change_300.changes[0], change_300.ts)
    with pytest.raises(ResyncRequired):
        yes.apply_change(late_250.changes[0], late_250.ts)
    # while waiting, a newer change arrives and is buffered
    newer = change_300.changes[0].__class__(**{**change_300.changes[0].__dict__, "size": Decimal(77),
                                               "best_bid_micros": 500_000})
    assert yes.apply_change(newer, change_300.ts + 100) is False
    snap = parse_book(load("clob_book_2026-01-04.json"))
    snap = BookMsg(**{**snap.__dict__, "ts": change_300.ts, "bids": snap.bids + (snap.bids[0].__class__(500_000, Decimal(350)),)})
    yes.apply_snapshot(snap, from_rest=True)
    assert yes.view().bids[0] == (500_000, Decimal(77))


def test_tick_size_change_applies_live_and_revalidates() -> None:
    yes, _ = _books()
    coarser = TickSizeChangeMsg(ETH15_YES, yes.market, yes.ts + 1, 10_000, 100_000)
    with pytest.raises(ResyncRequired, match="off the new 100000 tick grid"):
        yes.apply_tick_size(coarser)
    yes, _ = _books()
    finer = TickSizeChangeMsg(ETH15_YES, yes.market, yes.ts + 1, 10_000, 1_000)
    yes.apply_tick_size(finer)
    assert yes.view().tick_micros == 1_000
    wrong_from = TickSizeChangeMsg(ETH15_YES, yes.market, yes.ts + 2, 10_000, 1_000)
    with pytest.raises(ResyncRequired, match="book holds 1000"):
        yes.apply_tick_size(wrong_from)


def test_off_tick_price_and_best_price_mismatch_force_resync() -> None:
    yes, _ = _books()
    msg = parse_ws_message(load("ws_market_price_change_doc_example.json"))
    ch = msg.changes[0].__class__(**{**msg.changes[0].__dict__, "asset_id": ETH15_YES, "price_micros": 505_000})
    with pytest.raises(ResyncRequired, match="tick grid"):
        yes.apply_change(ch, yes.ts + 1)
    yes, _ = _books()
    wrong_best = msg.changes[0].__class__(**{**msg.changes[0].__dict__, "asset_id": ETH15_YES})  # says no asks
    with pytest.raises(ResyncRequired, match="local book has 500000/510000"):
        yes.apply_change(wrong_best, yes.ts + 1)
