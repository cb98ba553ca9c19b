"""Writes per Kalshi book delta on the recorded session (bench/writes.py): what one price-level change costs.

Input: data/sessions/nba-2026-finals-g3 (its Kalshi websocket frames are built from the recorded
tops and depth; see its PROVENANCE.md), through the connectors' normalizers, discovery, the
router, the shard and the trading topology in process with one account.
"""

from __future__ import annotations

from bench.writes import count


def test_a_kalshi_delta_carries_neither_the_listing_nor_a_mirrored_book() -> None:
    got = count()
    detail = got["writes.detail_per_delta"]
    assert got["writes.kalshi_deltas"] > 3_000
    # four topic records (frame, quote, shard input, one account's inbox copy) and five changelog writes: the router's
    # quote, the shard's state, execution's book and state, the market's top (sizing's and positions', one table:
    # 6.24 writes when each kept its own), and sizing's account state a quarter of the time (when the quote moved
    # its event-time clock)
    assert (got["writes.topic_per_kalshi_delta"], got["writes.changelog_per_kalshi_delta"]) == (4.01, 5.24)
    # a quote writes its market's top, once, not the account's state with every market's (1,430 and 1,283 bytes per
    # delta with this session's handful of markets before, growing with each market listed: 0.74 and 1.08 MB at 3,000)
    assert detail["changelog trading-tops"] == 1.0
    assert detail["bytes trading-tops"] < 300 and detail["bytes trading-sizing"] < 200
    assert "changelog trading-positions" not in detail
    # the quote carries Kalshi's two bid ladders only (two levels a side here): 209 bytes before packing
    assert detail["bytes markets.quotes"] < 200
    # the listing (~1,230 bytes, its rules text above all) went with every quote before: 1,671 bytes per input
    assert detail["bytes shard.inputs"] < 500 and detail["bytes trading.inbox"] < 500
    # execution's history of the market's books (11.4 on average), each book its Avro bytes, and no listing: 8,091
    # bytes per delta as JSON objects with the listing and link; the listing is written when it changes, not per quote
    assert detail["changelog trading-book-history"] == 1.0 and detail["bytes trading-book-history"] < 4_000
    assert "changelog trading-listings" not in detail
    # the shard's snapshot of the game: each market's listing without its rules text (~2 KB of 5,551 bytes before)
    assert detail["bytes shard-state"] < 4_500
