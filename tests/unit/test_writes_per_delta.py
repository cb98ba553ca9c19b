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
    # four topic records (frame, quote, shard input, one account's inbox copy) and six changelog writes
    assert (got["writes.topic_per_kalshi_delta"], got["writes.changelog_per_kalshi_delta"]) == (4.01, 6.03)
    # the quote carries Kalshi's two bid ladders only (two levels a side here): 209 bytes before packing
    assert detail["bytes markets.quotes"] < 200
    # the listing (~1,230 bytes, its rules text above all) went with every quote before: 1,671 bytes per input
    assert detail["bytes shard.inputs"] < 500 and detail["bytes trading.inbox"] < 500
