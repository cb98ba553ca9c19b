"""Kalshi payloads → contract records: MarketListing for `markets.catalog`, Quote for `markets.quotes`.

Pure functions; the time a record carries is passed in. Market payload fields
are the ones recorded in tests/fixtures/kalshi/markets_list_*.json; series
fields (`fee_type`, `fee_multiplier`, `category`) are documented in Kalshi's
OpenAPI `Series` schema (GET /series/{series_ticker}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.book import MarketBook
from connectors.kalshi.errors import BadPayload
from connectors.kalshi.messages import parse_levels, rfc3339_ms
from connectors.kalshi.rules import kalshi_rule, settlement_source
from schemas.enums import ListingStatus, MarketType, Side, Venue
from schemas import depth
from schemas.records import MarketListing, Quote

VENUE_PREFIX = "KALSHI"

#: Kalshi's published fee coefficients (kalshi.com/fee-schedule): taker 0.07·C·P·(1−P);
#: maker 0.0175·C·P·(1−P) only on series whose `fee_type` is `quadratic_with_maker_fees`.
TAKER_COEFFICIENT = 0.07
MAKER_COEFFICIENT = 0.0175
QUADRATIC_FEE_TYPES = frozenset({"quadratic", "quadratic_with_maker_fees"})

_CATEGORY_TYPES = {
    "sports": MarketType.SPORT,
    "economics": MarketType.ECONOMICS,
    "financials": MarketType.ECONOMICS,
    "politics": MarketType.POLITICS,
    "elections": MarketType.POLITICS,
    "crypto": MarketType.CRYPTO,
}

#: Game-winner series of every league the sports models cover (streams/probability/registry.py); league
#: keys as in connectors/espn/leagues.py. Tickers as Kalshi lists them (recorded KXNFLGAME fixture, the
#: KXNBAGAME/KXNCAAMBGAME objects of data/sessions/nba-2026-finals-g3/listings/PROVENANCE.md, and markets
#: of every other series seen in public code that reads Kalshi's API; see README "Kalshi series").
#: Women's college basketball (KXNCAAWBGAME) and the other soccer leagues (KXLALIGAGAME, KXUCLGAME, …) are
#: listed by Kalshi but have no model, ESPN league or alias table here, so they are not followed.
SERIES_LEAGUES = {
    "KXNFLGAME": "nfl",
    "KXNCAAFGAME": "ncaaf",
    "KXNBAGAME": "nba",
    "KXWNBAGAME": "wnba",
    "KXNCAAMBGAME": "ncaab",
    "KXMLBGAME": "mlb",
    "KXNHLGAME": "nhl",
    "KXMLSGAME": "mls",
    "KXEPLGAME": "epl",
    "KXATPMATCH": "atp",
    "KXWTAMATCH": "wta",
    "KXUFCFIGHT": "ufc",
}


def listing_id(ticker: str) -> str:
    """The `markets.catalog` / `markets.quotes` key and MarketListing id."""
    return f"{VENUE_PREFIX}:{ticker}"


@dataclass(frozen=True)
class SeriesInfo:
    """What a listing needs from its series: category and the fee schedule."""

    ticker: str
    title: str
    category: str
    fee_type: str
    fee_multiplier: float
    settlement_source: str = ""  # the result authority the series names (`settlement_sources`)


def parse_series(payload: dict[str, Any]) -> SeriesInfo:
    """GET /series/{ticker} answer (`{"series": {...}}`) or a bare series object."""
    s = payload.get("series", payload) if isinstance(payload, dict) else None
    if not isinstance(s, dict):
        raise BadPayload("series", "expected an object")
    ticker = s.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise BadPayload("series.ticker", f"missing or empty: {ticker!r}")
    fee_type = s.get("fee_type")
    if not isinstance(fee_type, str) or not fee_type:
        raise BadPayload("series.fee_type", f"missing: {fee_type!r}")
    mult = s.get("fee_multiplier", 1)
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or mult < 0:
        raise BadPayload("series.fee_multiplier", f"expected a non-negative number, got {mult!r}")
    return SeriesInfo(ticker, str(s.get("title", "")), str(s.get("category", "")), fee_type, float(mult),
                      settlement_source(s))


@dataclass(frozen=True)
class FeeRates:
    taker: float
    maker: float
    source: str  # where the rates came from, for the record's reader and the logs


def fee_rates(market: dict[str, Any], series: SeriesInfo | None) -> FeeRates:
    """Taker and maker coefficients for one market.

    A `fee_type`/`fee_multiplier` on the market payload wins (Kalshi layers event
    overrides over the series schedule), then the series. With neither, the taker
    rate is the published 0.07 and the maker rate 0: Kalshi charges makers only
    on series that say so, and the market payload alone cannot say so. The feed
    fetches each series before its markets, so this fallback only serves payloads
    normalized without their series. A fee type that is not quadratic (`flat`)
    is refused rather than priced wrongly.
    """
    fee_type: str | None = None
    mult = 1.0
    source = "default"
    if isinstance(market.get("fee_type"), str):
        fee_type, source = market["fee_type"], "market"
        m = market.get("fee_multiplier", 1)
        if isinstance(m, bool) or not isinstance(m, (int, float)):
            raise BadPayload("market.fee_multiplier", f"expected a number, got {m!r}")
        mult = float(m)
    elif series is not None:
        fee_type, mult, source = series.fee_type, series.fee_multiplier, f"series {series.ticker}"
    if fee_type is None:
        return FeeRates(TAKER_COEFFICIENT, 0.0, "default: no series fee schedule; maker fee unknown, taken as 0")
    if fee_type not in QUADRATIC_FEE_TYPES:
        raise BadPayload(f"{source}.fee_type", f"fee type {fee_type!r} is not a quadratic schedule this system can price")
    maker = MAKER_COEFFICIENT * mult if fee_type == "quadratic_with_maker_fees" else 0.0
    return FeeRates(round(TAKER_COEFFICIENT * mult, 10), round(maker, 10), source)


def series_of(event_ticker: str) -> str:
    """Kalshi event tickers start with their series ticker ("KXNFLGAME-25NOV27GBDET" → "KXNFLGAME")."""
    return event_ticker.split("-", 1)[0]


def _time(market: dict[str, Any], key: str) -> int | None:
    value = market.get(key)
    if value in (None, ""):
        return None
    return rfc3339_ms(value, f"market.{key}")


def _result(value: Any) -> Side | None:
    if value == "yes":
        return Side.YES
    if value == "no":
        return Side.NO
    return None  # "" until determined; "void"/"all_no" etc. are not a side


#: Kalshi market statuses (OpenAPI `Market.status`, current and legacy words) → the venue-neutral lifecycle.
LIFECYCLE = {
    "active": ListingStatus.OPEN,
    "open": ListingStatus.OPEN,
    "initialized": ListingStatus.PAUSED,
    "unopened": ListingStatus.PAUSED,
    "inactive": ListingStatus.PAUSED,
    "paused": ListingStatus.PAUSED,
    "closed": ListingStatus.CLOSED,
    "deactivated": ListingStatus.CLOSED,
    "determined": ListingStatus.DETERMINED,
    "disputed": ListingStatus.DETERMINED,
    "amended": ListingStatus.DETERMINED,
    "finalized": ListingStatus.SETTLED,
    "settled": ListingStatus.SETTLED,
}


def settlement_micros(market: dict[str, Any]) -> int | None:
    """What one YES contract pays once Kalshi has named the outcome, else None.

    `settlement_value_dollars` (or `settlement_value` in cents) is the venue's own figure and
    covers voids and fair-price settlements (a cancelled game, a tie at 50/50); without it
    a `result` of yes/no pays $1/$0. Before determination (`result` "") nothing is known.
    """
    if LIFECYCLE.get(str(market.get("status", ""))) not in (ListingStatus.DETERMINED, ListingStatus.SETTLED):
        return None
    if market.get("settlement_value_dollars") not in (None, ""):
        return fp.dollars_to_micros(market["settlement_value_dollars"], "market.settlement_value_dollars")
    if market.get("settlement_value") not in (None, ""):
        return fp.cents_to_micros(market["settlement_value"], "market.settlement_value")
    side = _result(market.get("result"))
    if side is None:
        return None
    return 1_000_000 if side is Side.YES else 0


def market_to_listing(market: dict[str, Any], ts: int, series: SeriesInfo | None = None) -> MarketListing:
    """One market object of GET /markets (or an event's nested markets) as a MarketListing."""
    if not isinstance(market, dict):
        raise BadPayload("market", "expected an object")
    ticker = market.get("ticker")
    event_ticker = market.get("event_ticker")
    if not isinstance(ticker, str) or not ticker:
        raise BadPayload("market.ticker", f"missing: {ticker!r}")
    if not isinstance(event_ticker, str) or not event_ticker:
        raise BadPayload("market.event_ticker", f"missing: {event_ticker!r}")
    if market.get("market_type", "binary") != "binary":
        raise BadPayload("market.market_type", f"only binary markets are quoted, got {market.get('market_type')!r}")
    series_ticker = series.ticker if series is not None else series_of(event_ticker)
    bands = fp.tick_bands(market)
    fees = fee_rates(market, series)
    category = (series.category if series is not None else str(market.get("category", ""))).lower()
    source = series.settlement_source if series is not None else ""
    return MarketListing(
        listing_id=listing_id(ticker),
        venue=Venue.KALSHI,
        market_id=ticker,
        ts=ts,
        group_id=event_ticker,
        series=series_ticker,
        title=str(market.get("title", "")),
        subtitle=str(market.get("subtitle", "")),
        yes_outcome=str(market.get("yes_sub_title") or market.get("subtitle") or ""),
        market_type=_CATEGORY_TYPES.get(category, MarketType.SPORT if series_ticker in SERIES_LEAGUES else MarketType.OTHER),
        league=SERIES_LEAGUES.get(series_ticker),
        status=str(market.get("status", "")),
        open_ts=_time(market, "open_time"),
        close_ts=_time(market, "close_time"),
        settle_ts=_time(market, "expected_expiration_time"),
        tick_micros=min(b.step_micros for b in bands),
        tick_bands=bands,
        taker_fee_rate=fees.taker,
        maker_fee_rate=fees.maker,
        fee_exponent=1.0,
        min_order_size=0.01 if market.get("fractional_trading_enabled") is True else 1.0,
        rules="\n\n".join(str(market[k]) for k in ("rules_primary", "rules_secondary") if market.get(k)),
        resolution_source=source,
        result=_result(market.get("result")),
        lifecycle=LIFECYCLE.get(str(market.get("status", "")), ListingStatus.UNKNOWN),
        settlement_micros=settlement_micros(market),
        resolution=kalshi_rule(market, source),
    )


# ------------------------------------------------------------------- quotes


def _packed(bids: list[tuple[int, int]]) -> bytes:
    """A bid side of the book (price micro-dollars, hundredths of a contract), best first."""
    return depth.pack([p for p, _ in bids], [c for _, c in bids])


def quote_id(ticker: str, sid: int | str, seq: int) -> str:
    """Deterministic: the same book state from the same subscription message always has the same id."""
    return f"{listing_id(ticker)}:{sid}:{seq}"


def book_to_quote(book: MarketBook, source: str = "kalshi.ws", qid: str | None = None) -> Quote:
    """The book as Kalshi lists it, bids of both sides (`asks_implied`): a NO bid at q is the YES
    ask at $1 − q, derived from these by `schemas.depth.ladder` where an ask is needed."""
    yes_bids, no_bids = book.yes_bids(), book.no_bids()
    yes_ask = (depth.ONE_DOLLAR_MICROS - no_bids[0][0], no_bids[0][1]) if no_bids else None
    no_ask = (depth.ONE_DOLLAR_MICROS - yes_bids[0][0], yes_bids[0][1]) if yes_bids else None
    return Quote(
        quote_id=qid or quote_id(book.ticker, book.sid, book.seq),
        venue=Venue.KALSHI,
        market_id=book.ticker,
        ts=book.ts,
        seq=book.seq,
        yes_bid_micros=yes_bids[0][0] if yes_bids else None,
        yes_bid_size=fp.centi_to_contracts(yes_bids[0][1]) if yes_bids else 0.0,
        yes_ask_micros=yes_ask[0] if yes_ask else None,
        yes_ask_size=fp.centi_to_contracts(yes_ask[1]) if yes_ask else 0.0,
        no_bid_micros=no_bids[0][0] if no_bids else None,
        no_bid_size=fp.centi_to_contracts(no_bids[0][1]) if no_bids else 0.0,
        no_ask_micros=no_ask[0] if no_ask else None,
        no_ask_size=fp.centi_to_contracts(no_ask[1]) if no_ask else 0.0,
        source=source,
        yes_bid_depth=_packed(yes_bids),
        no_bid_depth=_packed(no_bids),
        asks_implied=True,
    )


def rest_orderbook_to_book(payload: dict[str, Any], ticker: str, ts: int) -> MarketBook:
    """GET /markets/{ticker}/orderbook (`orderbook_fp`: yes_dollars/no_dollars of [price, count_fp]).

    A REST book has no websocket sequence (seq 0); it serves discovery-time quotes
    (quote id `rest_quote_id`) and is never mixed into a streamed book.
    """
    ob = payload.get("orderbook_fp") if isinstance(payload, dict) else None
    if not isinstance(ob, dict):
        raise BadPayload("orderbook_fp", "missing (the fixed-point orderbook form is required)")
    yes = parse_levels(ob.get("yes_dollars") or [], "orderbook_fp.yes_dollars")
    no = parse_levels(ob.get("no_dollars") or [], "orderbook_fp.no_dollars")
    book = MarketBook(ticker, sid=0, seq=0, ts=ts, yes=dict(yes), no=dict(no))
    if book.crossed():
        raise BadPayload("orderbook_fp", f"book of {ticker} is crossed")
    return book


def rest_quote_id(ticker: str, fetched_at: int) -> str:
    return f"{listing_id(ticker)}:rest:{fetched_at}"
