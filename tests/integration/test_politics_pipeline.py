"""Politics end to end through the real broker and one Faust worker (discovery, targets, router, shard).

In: the recorded FiveThirtyEight 2016 national polls (tests/fixtures/polls/) through the polls connector
(raw.polls, one state per poll), a Polymarket-style popular-vote listing and its book (constructed: no
recorded 2016 venue listing exists here), and a poll row made unreadable. Out: the race event, the link
(YES = Clinton, role a), probabilities and signals equal to the pure processors' on what the shard
received, and the bad row in `deadletter` with its reason.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from connectors.polls.pipeline import PollsPipeline
from connectors.polls.source import FTE_2016_NATIONAL
from connectors.publisher import Publisher
from connectors.rest import Fetched
from ops import demo
from schemas import depth
from schemas.enums import Venue
from schemas.records import DeadLetter, EventState, MarketLink, Quote, Signal

from tests.integration.target_worker import settled_outputs, target_worker
from tests.unit.politics.test_polls import CSV, ELECTION
from tests.unit.politics.test_races import RACE, listing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
EVENT = f"race:{RACE}"


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[demo.Child, demo.LogReader]]:
    with target_worker(kafka_bootstrap, tmp_path, "politics") as pair:
        yield pair


def test_recorded_polls_to_race_link_probabilities_and_signals(kafka_bootstrap: str, worker: tuple[demo.Child, demo.LogReader]) -> None:
    child, reader = worker
    child.start()
    demo.wait_ready(child, 120)
    pub = Publisher(kafka_bootstrap, service="politics-it")
    market = f"0xpv{uuid.uuid4().hex[:8]}"
    lst = listing("Will Hillary Clinton win the popular vote in the 2016 presidential election?", market)
    pub.publish("markets.catalog", lst.listing_id, lst)
    lines = CSV.splitlines()
    bad_row = lines[1].replace(",47,43,", ",forty-seven,43,")  # made-up corruption of one recorded row
    body = "\n".join([lines[0], bad_row, *lines[2:]])
    published, dead = PollsPipeline(pub, FTE_2016_NATIONAL).on_raw(
        Fetched("polls", RACE, FTE_2016_NATIONAL.url, {}, 200, ELECTION, body).raw_feed())
    assert len(published) == 328 and dead == 1
    pub.flush()

    def linked(r: demo.LogReader) -> bool:
        return any(lk.market_id == market for lk in r.of("markets.links", MarketLink))

    assert demo.wait_for(reader, linked, 120, alive=child.alive), f"no link; counts {reader.counts()}\n{child.tail()}"

    def races(r: demo.LogReader) -> list[EventState]:
        return [s for s in r.of("events.state", EventState) if s.event_id == EVENT]

    # The link can come while the race's states still flow (one per poll, in the file's order, not by date): a quote
    # stamped after the race state seen so far would be older than the polls still to come, and priced as stale.
    assert demo.wait_for(reader, lambda r: len(races(r)) >= len(published), 120, alive=child.alive), (
        f"{len(races(reader))} of {len(published)} race states; counts {reader.counts()}\n{child.tail()}")
    race = max(races(reader), key=lambda s: s.ts)
    # A book that sells YES (Clinton) at 0.40 (constructed), quoted two days after the last poll, as a live book is
    # (a polling average holds until the next poll).
    q = Quote(quote_id=f"POLYMARKET:{market}:it", venue=Venue.POLYMARKET, market_id=market, ts=race.ts + 2 * 86_400_000, seq=1,
              yes_ask_micros=400_000, yes_ask_size=100.0, no_ask_micros=620_000, no_ask_size=100.0,
              yes_ask_depth=depth.pack_levels([(400_000, 100.0)]), no_ask_depth=depth.pack_levels([(620_000, 100.0)]))
    pub.publish("markets.quotes", f"POLYMARKET:{market}", q)
    pub.flush()

    def signalled(r: demo.LogReader) -> bool:
        return any(s.event_id == EVENT and s.legs[0].market_id == market for s in r.of("signals", Signal))

    assert demo.wait_for(reader, signalled, 120, alive=child.alive), f"no signal; counts {reader.counts()}\n{child.tail()}"
    reader.poll(3.0)
    (link,) = [lk for lk in reader.of("markets.links", MarketLink) if lk.market_id == market]
    assert (link.event_id, link.yes_role, link.yes_entity) == (EVENT, "a", "Hillary Clinton")
    got_probs, got_sigs, want_probs, want_sigs = settled_outputs(child, reader, EVENT)
    assert got_probs == want_probs and got_probs[-1].model == "polls-race" and got_probs[-1].outcomes["a"] > 0.6
    assert got_sigs == want_sigs and got_sigs[0].legs[0].side.value == "YES"
    dead_letters = [d for d in reader.of("deadletter", DeadLetter) if d.topic == "raw.polls" and "rawpoll_clinton" in d.error]
    assert dead_letters
