from __future__ import annotations

import pytest

from connectors.polymarket.clob import parse_clob_market_info, parse_prices_history
from connectors.polymarket.errors import BadPayload, MissingFeeInfo
from connectors.polymarket.messages import parse_book

from .conftest import ETH15_MARKET, ETH15_YES, load


def test_rest_book() -> None:
    book = parse_book(load("clob_book_2026-01-04.json"))
    assert (book.asset_id, book.market, book.ts) == (ETH15_YES, ETH15_MARKET, 1767554656215)
    assert (book.tick_micros, book.neg_risk, len(book.bids), len(book.asks)) == (10_000, False, 20, 20)


def test_clob_market_info_fee_curve() -> None:
    info = parse_clob_market_info("0xabc", load("clob_market_info_doc_example.json"))
    assert (info.fees.taker_rate, info.fees.exponent, info.fees.maker_rate) == (0.02, 2.0, 0.0)
    assert (info.tick_micros, info.min_order_size, info.taker_base_fee_bps) == (10_000, 5.0, 0)
    assert info.tokens[0].outcome == "Yes" and info.neg_risk is None


def test_clob_market_info_without_fee_curve_is_refused() -> None:
    raw = {k: v for k, v in load("clob_market_info_doc_example.json").items() if k != "fd"}
    with pytest.raises(MissingFeeInfo, match="no fee curve"):
        parse_clob_market_info("0xabc", raw)


def test_prices_history_refuses_non_probabilities() -> None:
    # the documented example carries p=1800.75: not a price of a binary contract
    with pytest.raises(BadPayload, match="not a probability"):
        parse_prices_history(load("prices_history_doc_example.json"))
    points = parse_prices_history({"history": [{"t": 1697875200, "p": 0.42}]})
    assert points[0].ts == 1697875200000 and points[0].price == 0.42
