"""The board shows crypto, economics and politics events with what their model reads, and keeps feed states out."""

from __future__ import annotations

from ops.run.board import Board
from streams.crypto.parse import parse_listing
from tests.unit.crypto.test_targets import spots
from tests.unit.crypto.venues import kalshi_listing
from tests.unit.economics.test_release_targets import kalshi, unrate_states
from tests.unit.politics.test_races import race_states


def test_targets_and_races_show_their_model_inputs_and_feeds_are_not_rows() -> None:
    from streams.crypto.targets import TargetsProcessor as Crypto
    from streams.economics.targets import TargetsProcessor as Econ

    board = Board()
    c, cs = Crypto(), None
    cs, _ = c.step(c.initial("btc"), kalshi_listing("KXBTCD-26FEB1217-T72749.99"))
    for s in spots():
        board.apply("events.state", s)
        cs, out = c.step(cs, s)
        for o in out:
            board.apply("events.state", o)
    e = Econ()
    es, _ = e.step(e.initial("unrate"), kalshi("KXU3-20MAY-T14.0"))
    for s in unrate_states():
        board.apply("events.state", s)
        es, out = e.step(es, s)
        for o in out:
            board.apply("events.state", o)
    _, races = race_states()
    board.apply("events.state", races[-1])
    rows = board.events
    assert set(rows) == {parse_listing(kalshi_listing("KXBTCD-26FEB1217-T72749.99")).event_id,
                         "econ:unrate:2020-05-01:ge-14.1", "race:us-president-2016-popular-vote"}
    assert rows["econ:unrate:2020-05-01:ge-14.1"].score.startswith("forecast 14.")
    assert rows["race:us-president-2016-popular-vote"].score.startswith("margin +")
    assert next(r for k, r in rows.items() if k.startswith("crypto:")).score.startswith("spot 27,")
    assert board.counts["events.state"] > 169 + 868  # feed states are counted, just not listed
