"""Closed sets of the contract, encoded as Avro enums.

Adding a symbol is a compatible change only because every enum declares a
`default` symbol that old readers fall back to (see schemas/EVOLUTION.md).
"""

from __future__ import annotations

from enum import Enum


class MarketType(str, Enum):
    SPORT = "SPORT"
    CRYPTO = "CRYPTO"
    ECONOMICS = "ECONOMICS"
    POLITICS = "POLITICS"
    OTHER = "OTHER"


class EventStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    LIVE = "LIVE"
    BREAK = "BREAK"  # halftime, intermission, between innings/rounds
    SUSPENDED = "SUSPENDED"
    FINAL = "FINAL"
    POSTPONED = "POSTPONED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


class ListingStatus(str, Enum):
    """A venue market's lifecycle, venue-neutral; only OPEN takes orders.

    PAUSED: not trading now but may (not yet open, halted, inactive); CLOSED: trading over,
    outcome not final; DETERMINED: the venue named the outcome, payout pending (dispute
    window); SETTLED: paid at `MarketListing.settlement_micros`. UNKNOWN: an old record
    or a status word the connector does not know (treated as OPEN, as before it existed).
    """

    OPEN = "OPEN"
    PAUSED = "PAUSED"
    CLOSED = "CLOSED"
    DETERMINED = "DETERMINED"
    SETTLED = "SETTLED"
    UNKNOWN = "UNKNOWN"


class Venue(str, Enum):
    KALSHI = "KALSHI"
    POLYMARKET = "POLYMARKET"
    OTHER = "OTHER"


class Side(str, Enum):
    """Which contract of a binary market: the YES or the NO side."""

    YES = "YES"
    NO = "NO"


class Action(str, Enum):
    BUY = "BUY"
    SELL = "SELL"


class SignalKind(str, Enum):
    MODEL_EDGE = "MODEL_EDGE"
    CROSS_VENUE_ARB = "CROSS_VENUE_ARB"
    EXIT = "EXIT"


class TradingMode(str, Enum):
    PAPER = "PAPER"
    LIVE = "LIVE"


class TimeInForce(str, Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderState(str, Enum):
    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    RESTING = "RESTING"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"  # outcome not known yet: execution must reconcile before new orders


class PositionStatus(str, Enum):
    OPEN = "OPEN"
    UPDATE = "UPDATE"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    CLOSED = "CLOSED"
    SETTLED = "SETTLED"


class RiskKind(str, Enum):
    ORDER_REFUSED = "ORDER_REFUSED"
    LIMIT_HIT = "LIMIT_HIT"
    BREAKER_TRIPPED = "BREAKER_TRIPPED"
    BREAKER_RESET = "BREAKER_RESET"
    KILL_SWITCH = "KILL_SWITCH"
    DAILY_LOSS_STOP = "DAILY_LOSS_STOP"


class Severity(str, Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class HealthStatus(str, Enum):
    OK = "OK"
    DEGRADED = "DEGRADED"
    DOWN = "DOWN"


class OutcomeBasis(str, Enum):
    """What decides a game-winner market: the official final (overtime/extra time included) or regulation only."""

    FINAL_RESULT = "FINAL_RESULT"
    REGULATION = "REGULATION"
    UNKNOWN = "UNKNOWN"


class TieRule(str, Enum):
    """What the market pays if the game ends level."""

    HALF_EACH = "HALF_EACH"  # $0.50 per contract on every side (Kalshi "$0.50 for each team", Polymarket "50-50")
    DRAW_OUTCOME = "DRAW_OUTCOME"  # a draw is its own outcome: team sides pay 0
    NOT_STATED = "NOT_STATED"
    UNKNOWN = "UNKNOWN"


class VoidRule(str, Enum):
    """What the market pays if the game is cancelled (or not played within the make-up window)."""

    FAIR_PRICE = "FAIR_PRICE"  # Kalshi: "a fair price for each team in accordance with the rules"
    FIFTY_FIFTY = "FIFTY_FIFTY"  # Polymarket: "resolve 50-50"
    UNKNOWN = "UNKNOWN"
