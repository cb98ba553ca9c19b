"""Cross-venue pairing of the real listings of one game: 2026 NBA Finals G3, SA @ NY (ESPN 401859965).

The Kalshi and Polymarket listing objects (data/sessions/nba-2026-finals-g3/listings, built in the venues'
payload shapes from recorded facts, see their PROVENANCE.md) go through the connectors' own normalizers,
the real discovery processor and the shard. On main 1c1ee7c the Kalshi listing carried no resolution
source and the Polymarket one could not even be linked (its `endDate` is before the tip), so the two
venues' markets of this game were never paired.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from connectors.kalshi.normalize import market_to_listing
from connectors.polymarket.gamma import event_of_market, parse_gamma_market
from connectors.polymarket.normalize import listing_from_gamma
from schemas import depth
from schemas.enums import EventStatus, MarketType, SignalKind, Side, Venue
from schemas.records import EventState, MarketLink, MarketListing, Quote, ShardInput
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.shard.config import ShardConfig
from streams.shard.processor import ShardProcessor
from streams.shard.state import ShardState

from tests.unit.shard.books import fixed_lookup

REPO = Path(__file__).resolve().parents[3]
LISTINGS = REPO / "data" / "sessions" / "nba-2026-finals-g3" / "listings"
PRICES = REPO / "tests" / "fixtures" / "shard" / "g3_recorded_prices_0304.json"
EVENT = "espn:nba:401859965"
TIP = 1_780_965_000_000  # 2026-06-09T00:30:00Z, Polymarket gameStartTime
SEEN = TIP - 3_600_000
K_SAS = "KXNBAGAME-26JUN08SASNYK-SAS"
PM = "0x0923f4cd56ffdd032deca9984f9779303b58c6ef9317c0c6490acccb477ba150"


def kalshi_listings() -> list[MarketListing]:
    body = json.loads((LISTINGS / "kalshi_markets_KXNBAGAME-26JUN08SASNYK_active.json").read_text())
    return [market_to_listing(m, SEEN) for m in body["markets"]]


def polymarket_listing() -> MarketListing:
    m = json.loads((LISTINGS / "polymarket_gamma_market_2415863_open.json").read_text())
    return listing_from_gamma(parse_gamma_market(m), event_of_market(m), SEEN)


def espn_event() -> EventState:
    """The game as ESPN names it (event 401859965: home New York Knicks "NY", away San Antonio Spurs "SA")."""
    return EventState(
        state_id=f"{EVENT}@{SEEN}", event_id=EVENT, ts=SEEN, source="espn", market_type=MarketType.SPORT, league="nba",
        status=EventStatus.SCHEDULED, start_ts=TIP, entity_a="New York Knicks", entity_b="San Antonio Spurs",
        entity_a_abbr="NY", entity_b_abbr="SA",
    )


def discovered_links(listings: list[MarketListing]) -> dict[str, MarketLink]:
    proc, st = DiscoveryProcessor(), DiscoveryState()
    st, _ = proc.step(st, espn_event())
    links: dict[str, MarketLink] = {}
    for lst in listings:
        st, outs = proc.step(st, lst)
        links.update({o.market_id: o for o in outs if isinstance(o, MarketLink)})
    return links


def quote(venue: Venue, market_id: str, ts: int, yes_ask: int, no_ask: int, size: float) -> Quote:
    return Quote(
        quote_id=f"{venue.value}:{market_id}:{ts}", venue=venue, market_id=market_id, ts=ts,
        yes_ask_micros=yes_ask, yes_ask_size=size, no_ask_micros=no_ask, no_ask_size=size,
        yes_ask_depth=depth.pack_levels([(yes_ask, size)]), no_ask_depth=depth.pack_levels([(no_ask, size)]), source="test",
    )


def recorded_quotes() -> tuple[Quote, Quote]:
    """Kalshi SAS book 503 ms after the 03:04:10.2Z play and the Polymarket Spurs price 6.7 s before it.

    Recorded: Kalshi best yes bid 0.75 / ask 0.76; Polymarket last price 0.705. Made up (not recorded):
    100 contracts at each best level, and a Polymarket book of ±0.005 around its price.
    """
    doc = json.loads(PRICES.read_text())
    k, p = doc["kalshi_ws_event_reaction"], doc["polymarket_spurs_token_1min"]
    k_ts = int(datetime.fromisoformat(k["event_wall_ts"]).timestamp() * 1000 + k["horizon_ms"] + 3)
    micros = lambda x: round(x * 1_000_000)  # noqa: E731
    kq = quote(Venue.KALSHI, K_SAS, k_ts, micros(k["post_yes_ask"]), 1_000_000 - micros(k["post_yes_bid"]), 100.0)
    pq = quote(Venue.POLYMARKET, PM, p["t_unix"] * 1000, micros(p["price"]) + 5_000, 1_000_000 - micros(p["price"]) + 5_000, 100.0)
    return kq, pq


def shard_inputs(listings: list[MarketListing], links: dict[str, MarketLink]) -> list[ShardInput]:
    by_id = {lst.market_id: lst for lst in listings}
    out = []
    for q in recorded_quotes():
        out.append(ShardInput(input_id=f"in-{q.quote_id}", event_id=EVENT, ts=q.ts, quote=q,
                              link=links[q.market_id], listing=by_id[q.market_id]))
    return sorted(out, key=lambda r: r.ts)


def test_real_listings_of_one_game_are_linked_to_it_with_their_outcome_roles() -> None:
    listings = [*kalshi_listings(), polymarket_listing()]
    links = discovered_links(listings)
    assert {m: (lk.event_id, lk.yes_role) for m, lk in links.items()} == {
        "KXNBAGAME-26JUN08SASNYK-NYK": (EVENT, "a"),
        K_SAS: (EVENT, "b"),
        PM: (EVENT, "b"),  # YES is the first outcome, "Spurs"
    }


def test_kalshi_and_polymarket_markets_of_the_game_pair_by_their_rules() -> None:
    listings = [*kalshi_listings(), polymarket_listing()]
    proc = ShardProcessor(ShardConfig(), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    st = ShardState(EVENT)
    for rec in shard_inputs(listings, discovered_links(listings)):
        st, _ = proc.step(st, rec)
    books = st.books
    pairs = {(books.keys[y], books.keys[n]) for y, n in zip(books.pair_yes.tolist(), books.pair_no.tolist())}
    assert pairs == {(f"KALSHI:{K_SAS}", f"POLYMARKET:{PM}"), (f"POLYMARKET:{PM}", f"KALSHI:{K_SAS}")}
    reason = books.pair_reason[0]
    assert reason.startswith("equivalent: same game (NBA, 2026-06-08; POLYMARKET start 2026-06-09 00:30Z)")
    assert "both settle on the final result, overtime included" in reason
    assert "settlement after the game (KALSHI expected 2026-06-09 03:30Z, KALSHI at the latest 2026-06-23 00:30Z)" in reason
    assert "KALSHI within 14 d, POLYMARKET with no time limit" in reason
    assert "cancelled with no make-up: KALSHI pays a fair price, POLYMARKET 50-50" in reason
    assert books.refused == ()


def test_the_shard_pairs_them_whatever_linked_them() -> None:
    """The shard's own decision, with both markets linked to the Spurs side by hand (as discovery does above)."""
    listings = [*kalshi_listings(), polymarket_listing()]
    links = {
        m: MarketLink(link_id=f"{v.value}:{m}", venue=v, market_id=m, event_id=EVENT, ts=SEEN, yes_role="b",
                      yes_entity="San Antonio Spurs", confidence=1.0, method="test", league="nba")
        for v, m in ((Venue.KALSHI, K_SAS), (Venue.POLYMARKET, PM))
    }
    proc = ShardProcessor(ShardConfig(), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    st = ShardState(EVENT)
    for rec in shard_inputs(listings, links):
        st, _ = proc.step(st, rec)
    assert st.books.pair_yes.size == 2  # YES Kalshi + NO Polymarket, and the other way round


def test_an_arbitrage_on_the_recorded_prices_carries_why_the_rules_are_equivalent() -> None:
    listings = [*kalshi_listings(), polymarket_listing()]
    proc = ShardProcessor(ShardConfig(), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    st, outs = ShardState(EVENT), []
    for rec in shard_inputs(listings, discovered_links(listings)):
        st, o = proc.step(st, rec)
        outs.extend(o)
    arbs = [s for s in outs if getattr(s, "kind", None) is SignalKind.CROSS_VENUE_ARB]
    assert len(arbs) == 1
    sig = arbs[0]
    # NO on Kalshi SAS at 1 - 0.75, YES (Spurs) on Polymarket at 0.705 + 0.005: 0.96 before fees
    assert [(leg.venue, leg.market_id, leg.side, leg.price_micros) for leg in sig.legs] == [
        (Venue.POLYMARKET, PM, Side.YES, 710_000), (Venue.KALSHI, K_SAS, Side.NO, 250_000)]
    assert sig.reason == st.books.pair_reason[0] and sig.reason.startswith("equivalent: same game")


def test_a_market_of_another_date_is_refused_with_its_reason() -> None:
    from streams.shard.equivalence import PairingPolicy, compare  # (here: the pairing tests above run on any version)

    k = next(lst for lst in kalshi_listings() if lst.market_id == K_SAS)
    moved = replace(k, resolution=replace(k.resolution, event_date="2026-06-10"))  # type: ignore[arg-type]
    verdict = compare(moved, polymarket_listing(), PairingPolicy())
    assert not verdict.equivalent
    assert verdict.reason == ("not equivalent: different games: KALSHI is scheduled for 2026-06-10, "
                              "POLYMARKET for 2026-06-08")


def test_a_market_that_expires_before_the_game_is_refused() -> None:
    from streams.shard.equivalence import PairingPolicy, compare

    k = next(lst for lst in kalshi_listings() if lst.market_id == K_SAS)
    early = replace(k, resolution=replace(k.resolution, latest_settle_ts=TIP - 60_000))  # type: ignore[arg-type]
    verdict = compare(early, polymarket_listing(), PairingPolicy())
    assert verdict.reason == ("not equivalent: KALSHI expires at 2026-06-09 00:29Z, before the game starts "
                              "(2026-06-09 00:30Z)")


def test_a_trader_who_refuses_void_differences_does_not_pair_this_game() -> None:
    from streams.shard.equivalence import PairingPolicy, compare

    k = next(lst for lst in kalshi_listings() if lst.market_id == K_SAS)
    verdict = compare(k, polymarket_listing(), PairingPolicy(accept_void_difference=False))
    assert not verdict.equivalent
    assert "payouts differ if the game is not played as scheduled" in verdict.reason
    assert "make-up later than 14 d: KALSHI pays a fair price, POLYMARKET follows the make-up" in verdict.reason


def test_the_shard_keeps_a_readable_verdict_for_paired_and_refused_markets() -> None:
    k = next(lst for lst in kalshi_listings() if lst.market_id == K_SAS)
    other_day = replace(k, resolution=replace(k.resolution, event_date="2026-06-10"))  # type: ignore[arg-type]
    listings = [other_day, polymarket_listing()]
    links = discovered_links([k, polymarket_listing()])
    proc = ShardProcessor(ShardConfig(), lookup=fixed_lookup({"a": 0.5, "b": 0.5}))
    st = ShardState(EVENT)
    for rec in shard_inputs(listings, links):
        st, _ = proc.step(st, rec)
    assert st.books.pair_yes.size == 0
    assert st.books.verdicts() == {
        (f"KALSHI:{K_SAS}", f"POLYMARKET:{PM}", False,
         "not equivalent: different games: KALSHI is scheduled for 2026-06-10, POLYMARKET for 2026-06-08"),
    }
