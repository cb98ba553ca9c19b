"""The records on Arbees topics: frozen dataclasses that generate the Avro schemas.

These classes are the single source of the contract: `schemas/avsc/*.avsc` are
generated from them (`python -m schemas.generate`) and checked by a test, so the
Python types and the wire schemas cannot drift apart.

Units (see schemas/README.md): prices and money are int micro-dollars
(`*_micros`, 1 USD = 1_000_000) so every venue tick (cent, deci-cent, 0.0001)
is exact; contract counts are float contracts rounded to 0.01 at the venue
boundary; probabilities are floats; `ts` is event time in epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.enums import (
    Action,
    EventStatus,
    HealthStatus,
    ListingStatus,
    MarketType,
    OrderState,
    OutcomeBasis,
    PositionStatus,
    RiskKind,
    Severity,
    Side,
    SignalKind,
    TieRule,
    TimeInForce,
    TradingMode,
    Venue,
    VoidRule,
)

#: What every integer field of a record holds (Avro `long`): readers refuse a larger number as a bad payload
#: rather than let the codec refuse the record at publish.
LONG = range(-(2**63), 2**63)


def ts_field(**kwargs: Any) -> Any:
    """A field holding epoch milliseconds, written as Avro timestamp-millis."""
    return field(metadata={"logical": "timestamp-millis"}, **kwargs)


# --------------------------------------------------------------------- raw feeds


@dataclass(frozen=True)
class RawFeed:
    """Exactly what an outside service answered; replaying these rebuilds everything."""

    raw_id: str
    ts: int = ts_field()
    source: str = ""
    endpoint: str = ""
    url: str = ""
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    fetched_at: int = ts_field(default=0)
    body: str = ""


# ------------------------------------------------------------------------ events


@dataclass(frozen=True)
class EventState:
    """Universal event state: sports fields plus a `features` map for other markets.

    Entity `a` is the home side (or the first-named side where there is no home).
    """

    state_id: str
    event_id: str
    ts: int = ts_field()
    source: str = ""
    market_type: MarketType = MarketType.SPORT
    league: str = ""
    name: str = ""
    status: EventStatus = EventStatus.UNKNOWN
    start_ts: int | None = ts_field(default=None)
    entity_a: str = ""
    entity_b: str = ""
    entity_a_id: str = ""
    entity_b_id: str = ""
    entity_a_abbr: str = ""
    entity_b_abbr: str = ""
    score_a: int = 0
    score_b: int = 0
    period: int = 0
    clock_seconds: float | None = None
    possession: str | None = None  # "a", "b" or None
    down: int | None = None
    distance: int | None = None
    yard_line: int | None = None  # yards from the possessing team's own goal line
    spread_a: float | None = None  # pregame point spread for entity a (negative = favoured)
    total: float | None = None
    winner: str | None = None  # "a", "b", "draw" once known
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Play:
    play_id: str
    event_id: str
    ts: int = ts_field()
    league: str = ""
    sequence: int = 0
    period: int = 0
    clock_seconds: float | None = None
    team_id: str | None = None
    play_type: str = ""
    text: str = ""
    score_a: int = 0
    score_b: int = 0
    scoring_play: bool = False
    score_value: int = 0
    source_home_win_prob: float | None = None  # the feed's own published win probability
    features: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------- markets


@dataclass(frozen=True)
class TickBand:
    """A price range with its tick: Kalshi's linear, tapered and deci-cent structures."""

    start_micros: int
    end_micros: int
    step_micros: int


@dataclass(frozen=True)
class ResolutionRule:
    """How a venue says a game market resolves, read from its own rule fields.

    Two venues' markets lock $1 together only when these agree
    (`streams.shard.equivalence`); `parsed_from` and `note` say what was read and
    what could not be, so a refused pair can always be explained.
    """

    parsed_from: str = ""  # the payload fields this was read from
    source: str = ""  # the result authority the venue names (URL or name), "" when it names none
    subject: str = ""  # the game as the venue words it ("Game 3: San Antonio at New York ...")
    yes_entity: str = ""  # who the YES side backs, as the venue names it
    event_date: str = ""  # the scheduled local date the rules name, ISO "YYYY-MM-DD"
    start_ts: int | None = ts_field(default=None)  # scheduled start, when the venue states one
    outcome: OutcomeBasis = OutcomeBasis.UNKNOWN
    tie: TieRule = TieRule.UNKNOWN
    follows_makeup: bool = False  # a postponed game settles on the make-up game
    makeup_window_ms: int | None = None  # how long after the original date a make-up still counts; None: no limit
    void: VoidRule = VoidRule.UNKNOWN
    expected_settle_ts: int | None = ts_field(default=None)
    latest_settle_ts: int | None = ts_field(default=None)
    note: str = ""  # what could not be read, in words


@dataclass(frozen=True)
class MarketListing:
    listing_id: str  # "<venue>:<market_id>"
    venue: Venue
    market_id: str
    ts: int = ts_field()
    group_id: str = ""  # Kalshi event ticker, Polymarket event id
    series: str | None = None
    title: str = ""
    subtitle: str = ""
    yes_outcome: str = ""  # what a YES contract pays on
    market_type: MarketType = MarketType.OTHER
    league: str | None = None
    status: str = ""
    open_ts: int | None = ts_field(default=None)
    close_ts: int | None = ts_field(default=None)
    settle_ts: int | None = ts_field(default=None)
    tick_micros: int = 10_000
    tick_bands: list[TickBand] = field(default_factory=list)
    taker_fee_rate: float = 0.0
    maker_fee_rate: float = 0.0
    fee_exponent: float = 1.0
    min_order_size: float = 1.0
    token_yes: str | None = None
    token_no: str | None = None
    neg_risk: bool = False
    rules: str = ""
    resolution_source: str = ""
    result: Side | None = None
    #: The venue's lifecycle of the market, normalized (`status` keeps the venue's own word).
    lifecycle: ListingStatus = ListingStatus.UNKNOWN
    #: What one YES contract pays, as the venue settled or determined it (NO pays $1 minus this):
    #: 1_000_000 or 0 for a YES/NO result, anything between for a void or fair-price settlement.
    settlement_micros: int | None = None
    #: How the venue says the market resolves, read from its rule fields (None: not read, e.g. non-sports).
    resolution: ResolutionRule | None = None


@dataclass(frozen=True)
class MarketLink:
    """Which event a venue market is about, and which entity its YES side backs."""

    link_id: str
    venue: Venue
    market_id: str
    event_id: str
    ts: int = ts_field()
    yes_role: str = ""  # "a", "b" or "draw"
    yes_entity: str = ""
    confidence: float = 0.0
    method: str = ""
    league: str | None = None


@dataclass(frozen=True)
class Quote:
    """Top of book and depth for both sides of one binary market.

    Depth is one packed ladder per side and direction (`schemas.depth`: little-endian
    int64 prices in micro-dollars, then sizes in hundredths of a contract), best level
    first: bids highest first, asks lowest first. A venue that lists bids only (Kalshi)
    sets `asks_implied` and leaves the ask ladders empty: a NO bid at q is the YES ask
    at $1 − q, derived by `schemas.depth.ladder`.
    """

    quote_id: str
    venue: Venue
    market_id: str
    ts: int = ts_field()
    seq: int = 0
    yes_bid_micros: int | None = None
    yes_bid_size: float = 0.0
    yes_ask_micros: int | None = None
    yes_ask_size: float = 0.0
    no_bid_micros: int | None = None
    no_bid_size: float = 0.0
    no_ask_micros: int | None = None
    no_ask_size: float = 0.0
    source: str = ""
    yes_bid_depth: bytes = b""
    yes_ask_depth: bytes = b""
    no_bid_depth: bytes = b""
    no_ask_depth: bytes = b""
    asks_implied: bool = False


@dataclass(frozen=True)
class ShardInput:
    """The value of `shard.inputs`: either an event state or a quote with its link and listing."""

    input_id: str
    event_id: str
    ts: int = ts_field()
    state: EventState | None = None
    quote: Quote | None = None
    link: MarketLink | None = None
    listing: MarketListing | None = None


# ------------------------------------------------------------------------ models


@dataclass(frozen=True)
class Probability:
    prob_id: str
    event_id: str
    ts: int = ts_field()
    outcomes: dict[str, float] = field(default_factory=dict)  # role -> probability
    model: str = ""
    version: str = ""
    inputs_digest: str = ""
    state_id: str = ""


@dataclass(frozen=True)
class SignalLeg:
    venue: Venue
    market_id: str
    side: Side
    action: Action = Action.BUY
    price_micros: int = 0
    fee_micros: int = 0  # fee per contract at `size`
    size: float = 0.0
    outcome_role: str = ""


@dataclass(frozen=True)
class Signal:
    signal_id: str
    event_id: str
    kind: SignalKind
    ts: int = ts_field()
    legs: list[SignalLeg] = field(default_factory=list)
    model_p: float | None = None
    edge: float = 0.0  # probability minus all-in cost per contract
    ev_micros: int = 0  # expected value per contract
    size: float = 0.0  # contracts at which the edge survives the book
    model: str = ""
    trigger: str = ""  # the record that caused it (topic/partition/offset or input id)
    reason: str = ""  # why it exists in words: for an arbitrage, why the two markets' rules are equivalent


# ------------------------------------------------------------------------ trading


@dataclass(frozen=True)
class Order:
    order_id: str
    account: str
    ts: int = ts_field()
    signal_id: str = ""
    mode: TradingMode = TradingMode.PAPER
    venue: Venue = Venue.OTHER
    market_id: str = ""
    event_id: str = ""
    side: Side = Side.YES
    action: Action = Action.BUY
    limit_price_micros: int = 0
    count: float = 0.0
    tif: TimeInForce = TimeInForce.IOC
    reason: str = ""
    group_id: str | None = None  # arbitrage episode both legs belong to
    model_p: float | None = None


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    account: str
    ts: int = ts_field()
    mode: TradingMode = TradingMode.PAPER
    venue: Venue = Venue.OTHER
    market_id: str = ""
    event_id: str = ""
    side: Side = Side.YES
    action: Action = Action.BUY
    price_micros: int = 0
    count: float = 0.0
    fee_micros: int = 0  # total fee of this fill
    liquidity: str = "taker"
    venue_fill_id: str | None = None
    reversed: bool = False  # a venue trade that later failed; undoes fill `fill_id`
    fee_computed: bool = False  # the venue reported no fee; `fee_micros` is its published schedule's fee


@dataclass(frozen=True)
class OrderStatus:
    status_id: str
    order_id: str
    account: str
    state: OrderState
    ts: int = ts_field()
    filled_count: float = 0.0
    remaining_count: float = 0.0
    avg_price_micros: int | None = None
    reason: str = ""
    venue_order_id: str | None = None


@dataclass(frozen=True)
class PositionEvent:
    position_event_id: str
    position_id: str
    account: str
    status: PositionStatus
    ts: int = ts_field()
    event_id: str = ""
    venue: Venue = Venue.OTHER
    market_id: str = ""
    side: Side = Side.YES
    quantity: float = 0.0
    avg_price_micros: int = 0
    mark_price_micros: int | None = None
    realized_pnl_micros: int = 0
    unrealized_pnl_micros: int = 0
    fees_micros: int = 0
    reason: str = ""


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    account: str
    ts: int = ts_field()
    delta_micros: int = 0
    balance_micros: int = 0
    version: int = 0
    reason: str = ""
    ref: str = ""


@dataclass(frozen=True)
class RiskEvent:
    risk_id: str
    account: str
    kind: RiskKind
    ts: int = ts_field()
    rule: str = ""
    reason: str = ""
    ref: str = ""
    value: float | None = None
    limit: float | None = None


# ------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Alert:
    alert_id: str
    dedupe_key: str
    severity: Severity
    ts: int = ts_field()
    service: str = ""
    message: str = ""


@dataclass(frozen=True)
class Heartbeat:
    heartbeat_id: str
    service: str
    instance: str
    status: HealthStatus
    ts: int = ts_field()
    lag: int = 0
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    """Bad input, kept with its coordinates and the reason it was refused."""

    dead_id: str
    topic: str
    ts: int = ts_field()
    partition: int = -1
    offset: int = -1
    key: bytes | None = None
    value: bytes = b""
    error: str = ""
    error_type: str = ""
    service: str = ""


#: Every top-level record type; each has one `.avsc` file named after it.
RECORD_TYPES: tuple[type, ...] = (
    RawFeed,
    EventState,
    Play,
    MarketListing,
    MarketLink,
    Quote,
    ShardInput,
    Probability,
    Signal,
    Order,
    Fill,
    OrderStatus,
    PositionEvent,
    LedgerEntry,
    RiskEvent,
    Alert,
    Heartbeat,
    DeadLetter,
)
