"""The escapes the fuzzer found, each as its minimal input (shrunk by hypothesis) on a recorded payload."""

from __future__ import annotations

import json

from bench.fuzz import FIXTURES, check, targets

TARGETS = {t.name: t for t in targets()}


def _last_trade() -> dict:
    return json.loads((FIXTURES / "polymarket/ws_market_last_trade_price_frames.ndjson").read_text().splitlines()[0])


def test_a_websocket_price_of_infinity_is_dead_lettered() -> None:
    """Was: OverflowError (Decimal('Infinity') to int) out of the Polymarket feed."""
    frame = _last_trade() | {"price": "Infinity"}
    sink = check(TARGETS["polymarket.ws"], json.dumps(frame))
    assert [d.error for d in sink.dead] == ["price 'Infinity' is not finite"]


def test_a_gamma_page_that_is_not_json_is_published_raw_and_dead_lettered() -> None:
    """Was: BadPayload out of discover()/refresh() with the page neither on raw.polymarket nor dead-lettered."""
    for name in ("polymarket.gamma.events", "polymarket.gamma.markets"):
        sink = check(TARGETS[name], "")
        assert len(sink.encoded) == 2  # the raw page, then its dead letter
        assert [d.error for d in sink.dead] == [f"{name.rsplit('.', 1)[1]} page at offset 0 is not JSON"]
    sink = check(TARGETS["polymarket.gamma.events"], "{}")
    assert [d.error for d in sink.dead] == ["events page at offset 0 is not a list"]


def test_a_rest_book_that_is_garbage_or_of_another_token_is_dead_lettered_and_the_book_stays_void() -> None:
    """Was: BadPayload / ValueError out of on_frame (the resync after a refused change), killing the stream."""
    target = TARGETS["polymarket.clob.book"]
    sink = check(target, "")
    assert [d.error for d in sink.dead][-1] == "book answer is not JSON"
    other = json.loads((FIXTURES / "polymarket/clob_book_2026-01-04.json").read_text())  # recorded, for its own token
    sink = check(target, json.dumps(other))
    assert "is the book of 638763548106" in sink.dead[-1].error
    crossed = json.loads(target.seeds[0]) | {"bids": [{"price": "0.9", "size": "1"}], "asks": [{"price": "0.1", "size": "1"}]}
    sink = check(target, json.dumps(crossed))
    assert "crossed" in sink.dead[-1].error


def test_a_gamma_market_whose_sports_type_is_a_number_is_dead_lettered() -> None:
    """Was: AttributeError ('float' has no .lower) from the rules reader, out of refresh()."""
    market = json.loads(TARGETS["polymarket.gamma.markets"].seeds[0])[0] | {"sportsMarketType": 0.0}
    sink = check(TARGETS["polymarket.gamma.markets"], json.dumps([market]))
    assert [d.error for d in sink.dead] == ["sportsMarketType is a float, not a string"]


def test_an_espn_event_of_an_unexpected_shape_is_dead_lettered_and_the_others_flow() -> None:
    """Was: AttributeError ('str' has no .get) out of the pipeline for a string where lastPlay's object was."""
    board = json.loads(TARGETS["espn.scoreboard"].seeds[0])
    board["events"][0]["competitions"][0]["situation"]["lastPlay"] = "x"
    sink = check(TARGETS["espn.scoreboard"], json.dumps(board))
    assert len(sink.dead) == 1 and "unreadable: AttributeError" in sink.dead[0].error
    assert len(sink.encoded) == 1 + (len(board["events"]) - 1) + 1  # raw, the other events' states, the dead letter


def test_espn_pick_center_odds_of_an_unexpected_shape_are_dead_lettered() -> None:
    """Was: AttributeError out of the pipeline (summary pickcenter provider a string)."""
    game = json.loads(TARGETS["espn.summary"].seeds[0])
    game["gamepackageJSON"]["pickcenter"][0]["provider"] = "x"
    sink = check(TARGETS["espn.summary"], json.dumps(game))
    assert len(sink.dead) == 1 and "response" in sink.dead[0].error and "AttributeError" in sink.dead[0].error


def test_a_book_size_past_any_real_book_is_dead_lettered() -> None:
    """Was: decimal.InvalidOperation (10^30 contracts rounded to hundredths) out of the Polymarket feed."""
    target = TARGETS["polymarket.ws"]
    frame = json.loads((FIXTURES / "polymarket/ws_market_book_frames.ndjson").read_text().splitlines()[0])
    frame["bids"][0]["size"] = 10**30
    sink = check(target, json.dumps(frame))
    assert [d.error for d in sink.dead] == [f"size {10**30!r} is above 1,000,000,000,000 contracts"]


def test_a_websocket_fee_rate_that_is_not_basis_points_is_dead_lettered() -> None:
    """Was: ValueError (int('xxx…')) out of the Polymarket feed."""
    sink = check(TARGETS["polymarket.ws"], json.dumps(_last_trade() | {"fee_rate_bps": "x" * 40}))
    assert [d.error for d in sink.dead] == [f"fee rate {'x' * 40!r} is not whole basis points"]


def test_a_gamma_event_whose_tags_are_a_number_is_dead_lettered() -> None:
    """Was: TypeError ('float' object is not iterable) out of discover()."""
    target = TARGETS["polymarket.gamma.events"]
    events = json.loads(target.seeds[0])
    events[0]["tags"] = 0.5
    sink = check(target, json.dumps(events))
    assert [d.error for d in sink.dead] == ["event tags is a float, not a list"]


def test_an_espn_play_score_past_64_bits_is_dead_lettered_not_refused_at_publish() -> None:
    """Was: SchemaViolation from the codec (a Play's score_b of 26 digits read as an int) out of the pipeline."""
    game = json.loads(TARGETS["espn.summary"].seeds[0])
    game["gamepackageJSON"]["plays"][0]["awayScore"] = 39317569850075658609229824
    sink = check(TARGETS["espn.summary"], json.dumps(game))
    assert len(sink.dead) == 1 and "awayScore" in sink.dead[0].error and "64-bit" in sink.dead[0].error


def _kalshi_frame(name: str, line: int) -> dict:
    return json.loads((FIXTURES / f"kalshi/{name}").read_text().splitlines()[line])


def test_a_kalshi_frame_whose_msg_is_not_an_object_is_dead_lettered() -> None:
    """Was: TypeError ("argument of type 'int' is not iterable") out of the Kalshi feed for `"msg": 0`."""
    subscribed = _kalshi_frame("ws_doc_examples_asyncapi.ndjson", 1) | {"msg": 0}
    sink = check(TARGETS["kalshi.ws"], json.dumps(subscribed))
    assert [d.error for d in sink.dead] == ["subscribed.msg: expected an object, got int"]


def test_a_kalshi_trade_time_past_any_record_is_dead_lettered() -> None:
    """A recorded trade frame with its unix seconds past what epoch milliseconds in a long hold."""
    trade = _kalshi_frame("ws_trade_frames.ndjson", 0)
    trade["msg"]["ts"] = 10**17
    sink = check(TARGETS["kalshi.ws"], json.dumps(trade))
    assert len(sink.dead) == 1 and "is not unix seconds" in sink.dead[0].error


def test_a_coingecko_time_that_is_not_a_time_is_dead_lettered() -> None:
    """Was: ValueError (int(NaN)) out of the CoinGecko pipeline for a chart point's timestamp; the same for a
    simple price's `last_updated_at` of 1e300 (past any record's epoch milliseconds)."""
    target = TARGETS["coingecko"]
    chart, simple = (json.loads(seed) for seed in target.seeds)
    chart["prices"][1][0] = float("nan")
    sink = check(target, json.dumps(chart))
    assert [d.error.split("#", 1)[1] for d in sink.dead] == ["market_chart.prices[1][0]: nan is not a time"]
    coin = next(iter(simple))
    simple[coin]["last_updated_at"] = 1e300
    sink = check(target, json.dumps(simple))
    assert [d.error.split("#", 1)[1] for d in sink.dead] == [f"simple_price.{coin}.last_updated_at: 1e+300 is not a time"]
