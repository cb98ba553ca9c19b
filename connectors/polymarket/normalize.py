"""Pure normalizers: Gamma markets → MarketListing, two token books → Quote.

Identity: a Polymarket market is keyed by its **condition id** ("0x…"),
`listing_id = "POLYMARKET:<condition id>"`. The condition id is what the CLOB
REST book, every market-channel message (`market`) and the trading API use, so
quotes and fills can be keyed without a Gamma lookup; Gamma's numeric id only
exists in Gamma. `group_id` is the Gamma event id.

YES is the first outcome and the first CLOB token; NO the second.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_EVEN, Decimal

from connectors.polymarket.book import BookView
from connectors.polymarket.errors import BookNotReady
from connectors.polymarket.gamma import GammaEvent, GammaMarket
from connectors.polymarket.rules import polymarket_rule
from schemas.enums import ListingStatus, MarketType, Side, Venue
from schemas import depth
from schemas.records import MarketListing, Quote

VENUE = Venue.POLYMARKET
SOURCE = "polymarket"

_CRYPTO_TAGS = {"crypto", "crypto-prices", "bitcoin", "ethereum", "solana", "xrp"}
_POLITICS_TAGS = {"politics", "elections", "us-presidential-election", "world-elections", "global-elections"}
_ECONOMICS_TAGS = {"economy", "economics", "fed", "fed-rates", "inflation", "cpi", "jobs-report", "gdp"}
#: The Gamma tag each non-sports market type is listed under (the recorded gamma events carry "crypto" and
#: "politics"; "economy" is the site's economics category): what `arbees run` follows beside the leagues.
MARKET_TYPE_TAGS = ("crypto", "economy", "politics")


def listing_key(condition_id: str) -> str:
    return f"{VENUE.value}:{condition_id}"


def market_type_of(event: GammaEvent, market: GammaMarket) -> MarketType:
    if event.is_sport or market.sports_market_type is not None:
        return MarketType.SPORT
    tags = set(event.tag_slugs)
    if tags & _CRYPTO_TAGS:
        return MarketType.CRYPTO
    if tags & _POLITICS_TAGS:
        return MarketType.POLITICS
    if tags & _ECONOMICS_TAGS:
        return MarketType.ECONOMICS
    return MarketType.OTHER


def status_of(m: GammaMarket) -> str:
    if m.closed:
        return "closed"
    if m.active and m.enable_order_book and m.accepting_orders:
        return "open"
    return "inactive"


#: Payouts a UMA resolution can give the first outcome: a winner, a loser, or 50-50 (Polymarket's void rule).
_TERMINAL = {Decimal(1): 1_000_000, Decimal(0): 0, Decimal("0.5"): 500_000}


def settlement_of(m: GammaMarket) -> int | None:
    """What one YES (first-outcome) token pays once the market resolved, else None.

    A closed market has resolved when `umaResolutionStatus` is "resolved"; while a proposal
    is open or disputed the outcome prices are not final. Objects without the field (older
    gamma answers) count as resolved only when their outcome prices are a terminal pair.
    """
    if not m.closed or len(m.outcome_prices) != 2 or m.uma_status not in ("", "resolved"):
        return None
    try:
        yes, no = (Decimal(p) for p in m.outcome_prices)
    except ArithmeticError:
        return None
    if yes not in _TERMINAL or yes + no != 1:
        return None
    return _TERMINAL[yes]


def lifecycle_of(m: GammaMarket) -> ListingStatus:
    if m.closed:
        return ListingStatus.SETTLED if settlement_of(m) is not None else ListingStatus.CLOSED
    return ListingStatus.OPEN if status_of(m) == "open" else ListingStatus.PAUSED


def result_of(m: GammaMarket) -> Side | None:
    """The settled side of a resolved market ("1"/"0"); None while unresolved or for a 50-50 resolution."""
    paid = settlement_of(m)
    return Side.YES if paid == 1_000_000 else Side.NO if paid == 0 else None


def listing_from_gamma(market: GammaMarket, event: GammaEvent, ts: int) -> MarketListing:
    mtype = market_type_of(event, market)
    return MarketListing(
        listing_id=listing_key(market.condition_id),
        venue=VENUE,
        market_id=market.condition_id,
        ts=ts,
        group_id=market.event_id or event.event_id,
        series=event.series_slug or None,
        title=market.question,
        subtitle=market.group_item_title,
        yes_outcome=market.outcomes[0],
        market_type=mtype,
        league=(event.series_slug or None) if mtype is MarketType.SPORT else None,
        status=status_of(market),
        open_ts=market.start_ts,
        close_ts=market.end_ts,
        settle_ts=market.closed_ts if market.closed else None,
        tick_micros=market.tick_micros,
        taker_fee_rate=market.fees.taker_rate,
        maker_fee_rate=market.fees.maker_rate,
        fee_exponent=market.fees.exponent,
        min_order_size=market.min_order_size,
        token_yes=market.token_ids[0],
        token_no=market.token_ids[1],
        neg_risk=market.neg_risk,
        rules=market.description,
        resolution_source=market.resolution_source,
        result=result_of(market),
        lifecycle=lifecycle_of(market),
        settlement_micros=settlement_of(market),
        resolution=polymarket_rule(market) if mtype is MarketType.SPORT else None,
    )


_CENT = Decimal("0.01")


def _ladder(levels: tuple[tuple[int, Decimal], ...]) -> list[tuple[int, int]]:
    """(price micro-dollars, hundredths of a contract): venue sizes rounded to 0.01 contracts;
    a level that rounds to nothing is not depth."""
    out = []
    for price, size in levels:
        centi = int(size.quantize(_CENT, rounding=ROUND_HALF_EVEN) * 100)
        if centi > 0:
            out.append((price, centi))
    return out


def _packed(ladder: list[tuple[int, int]]) -> bytes:
    return depth.pack([p for p, _ in ladder], [c for _, c in ladder])


def quote_from_books(condition_id: str, yes: BookView, no: BookView, ts: int) -> Quote:
    """Both sides of one binary market, each from its own token's book."""
    if yes.asset_id == no.asset_id:
        raise BookNotReady("YES and NO books are the same token")
    yes_bids, yes_asks = _ladder(yes.bids), _ladder(yes.asks)
    no_bids, no_asks = _ladder(no.bids), _ladder(no.asks)
    digest = hashlib.sha1()
    for ladder in (yes_bids, yes_asks, no_bids, no_asks):
        digest.update(b"|" + ";".join(f"{p}:{c / 100:.2f}" for p, c in ladder).encode())
    return Quote(
        quote_id=f"{listing_key(condition_id)}:{ts}:{digest.hexdigest()[:16]}",
        venue=VENUE,
        market_id=condition_id,
        ts=ts,
        seq=yes.seq + no.seq,
        yes_bid_micros=yes_bids[0][0] if yes_bids else None,
        yes_bid_size=yes_bids[0][1] / 100 if yes_bids else 0.0,
        yes_ask_micros=yes_asks[0][0] if yes_asks else None,
        yes_ask_size=yes_asks[0][1] / 100 if yes_asks else 0.0,
        no_bid_micros=no_bids[0][0] if no_bids else None,
        no_bid_size=no_bids[0][1] / 100 if no_bids else 0.0,
        no_ask_micros=no_asks[0][0] if no_asks else None,
        no_ask_size=no_asks[0][1] / 100 if no_asks else 0.0,
        source=SOURCE,
        yes_bid_depth=_packed(yes_bids),
        yes_ask_depth=_packed(yes_asks),
        no_bid_depth=_packed(no_bids),
        no_ask_depth=_packed(no_asks),
    )
