"""Frozen trading configuration: sizing, risk limits, breaker, paper engine, exits.

Every window, cool-down and trading day is measured in event time (the records'
`ts`), so a replay makes the same decisions as the live run did.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from schemas.enums import Venue
from streams.trading.units import Contracts, Micros

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


@dataclass(frozen=True)
class RiskConfig:
    #: Open cost (contracts × average price) allowed per event, market, venue and in total.
    max_event_exposure: Micros = Micros(100_000_000)
    max_market_exposure: Micros = Micros(50_000_000)
    max_venue_exposure: Micros = Micros(250_000_000)
    max_total_exposure: Micros = Micros(400_000_000)
    #: Realized loss net of fees in one trading day that stops new entries for the rest of it.
    daily_loss_limit: Micros = Micros(50_000_000)
    #: The trading day: IANA zone and the hour at which it rolls over.
    timezone: str = "America/New_York"
    rollover_hour: int = 0
    #: Breaker: consecutive realized losses, loss rate over recent outcomes, execution errors.
    max_consecutive_losses: int = 4
    loss_rate_limit: float = 0.75
    loss_rate_window: int = 8
    loss_rate_min_samples: int = 6
    max_consecutive_exec_errors: int = 3
    #: A signal older than the account's event-time watermark by more than this is stale data.
    stale_signal_ms: int = 30_000
    #: The breaker resets by rule once event time has moved this far past the trip.
    breaker_cooldown_ms: int = 15 * MINUTE_MS
    #: Price band: absolute limits and the largest distance from the latest quote.
    min_price: Micros = Micros(10_000)
    max_price: Micros = Micros(990_000)
    max_price_deviation: Micros = Micros(50_000)
    #: Order-rate limits per account (event time).
    max_orders_per_minute: int = 20
    max_orders_per_hour: int = 200


@dataclass(frozen=True)
class SizingConfig:
    kelly_fraction: float = 0.25
    #: Largest share of bankroll one cross-venue arbitrage may commit (Kelly is unbounded there).
    arb_max_fraction: float = 0.05
    #: Contract step per venue when the listing does not say (Kalshi whole contracts, Polymarket 0.01).
    contract_step: Mapping[Venue, Contracts] = field(
        default_factory=lambda: {Venue.KALSHI: Contracts(100), Venue.POLYMARKET: Contracts(1), Venue.OTHER: Contracts(100)}
    )
    default_tick: Micros = Micros(10_000)
    #: Orders below this many contracts are not sent.
    min_contracts: Contracts = Contracts(100)

    def step_for(self, venue: Venue) -> Contracts:
        return self.contract_step.get(venue, Contracts(100))


@dataclass(frozen=True)
class PaperConfig:
    #: The order reaches the book this long after its event time.
    latency_ms: int = 250
    #: An order whose market has no book yet waits this long (event time) for one, then is rejected.
    max_book_wait_ms: int = 10_000


@dataclass(frozen=True)
class ExitConfig:
    #: Stop-loss when the bid falls to avg · (1 − stop_loss); None disables.
    stop_loss: float | None = 0.5
    #: Take-profit when the bid reaches avg + take_profit · (1 − avg); None disables.
    take_profit: float | None = 0.9
    #: Unwinds and exits sell down to this far below the best bid.
    sell_band: Micros = Micros(20_000)


@dataclass(frozen=True)
class TradingConfig:
    accounts: tuple[str, ...] = ("paper",)
    #: Event id prefixes these accounts trade (e.g. "espn:nfl:"); empty trades every event.
    events: tuple[str, ...] = ()
    sizing: SizingConfig = field(default_factory=SizingConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    paper: PaperConfig = field(default_factory=PaperConfig)
    exits: ExitConfig = field(default_factory=ExitConfig)

    @property
    def book_window_ms(self) -> int:
        """Event time of books execution keeps before a market's latest, to fill an order against the book as
        of its time. A worker catching up runs execution ahead of sizing (it reads only market data; orders
        come from sizing on another topic), so an order can be read after later books of its market: the
        window covers as far behind the account's time as sizing still trades a signal (the stale-signal
        limit), plus the paper latency. A count of books would not: a busy market's books of a few seconds
        would push out the one an order needs."""
        return self.risk.stale_signal_ms + self.paper.latency_ms

    def trades(self, event_id: str) -> bool:
        return not self.events or event_id.startswith(self.events)

    def scoped(self, env: Mapping[str, str]) -> TradingConfig:
        """These settings for the accounts and events a deployment names: ARBEES_ACCOUNTS (comma list) and
        ARBEES_TRADING_EVENTS (comma list of event id prefixes) override the file's `accounts`/`events`.
        Thresholds and limits come from the configuration file only (`streams.config_file`)."""
        accounts = tuple(a.strip() for a in env.get("ARBEES_ACCOUNTS", "").split(",") if a.strip()) or self.accounts
        events = tuple(x.strip() for x in env.get("ARBEES_TRADING_EVENTS", "").split(",") if x.strip())
        return replace(self, accounts=accounts, events=events if "ARBEES_TRADING_EVENTS" in env else self.events)
