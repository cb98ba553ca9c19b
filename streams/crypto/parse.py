"""Venue crypto listings -> CryptoTarget: asset, strike(s), direction, time and resolution rule.

Kalshi: the ticker says it all for threshold markets
(`KXBTCD-26FEB1217-T72749.99` = Bitcoin above $72,749.99 at 5 pm ET on
2026-02-12); range markets (`B` prefix) carry their midpoint in the ticker, so
their bounds come from the subtitle ("$72,500 to 72,999.99"). Kalshi's crypto
price series settle on CF Benchmarks' real-time index averaged over the 60
seconds before the hour (series rules: "the simple average of the sixty
seconds of <index> data before the time").

Polymarket: the Up/Down markets (`Bitcoin Up or Down - January 5, 2:15PM-2:20PM
ET`) compare the end of the window with its start, ">=" resolving Up; price
thresholds ("Will Bitcoin be above $100,000 on ...?", "... reach $120,000 ...")
resolve at the market's end time. The index is read from the description
(Chainlink data streams, Binance candles); a listing whose index is not
recognised is refused rather than paired on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from schemas.enums import Venue
from schemas.records import MarketListing
from streams.crypto.target import CryptoTarget, ResolutionRule, TargetKind

ET = ZoneInfo("America/New_York")

#: Venue names of each asset, lower case; the key is the canonical symbol (the `league`).
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "btc": ("btc", "bitcoin", "xbt"),
    "eth": ("eth", "ethereum", "ether"),
    "sol": ("sol", "solana"),
    "xrp": ("xrp", "ripple"),
    "doge": ("doge", "dogecoin"),
}
_ALIAS = {alias: sym for sym, names in ASSET_ALIASES.items() for alias in names}


def asset_of(name: str) -> str | None:
    """Canonical symbol of an asset name ("Bitcoin", "XBT", "Ether"), or None."""
    return _ALIAS.get(name.strip().lower())


@dataclass(frozen=True)
class KalshiSeries:
    asset: str
    index: str  # CF Benchmarks real-time index settling the series
    threshold_kind: TargetKind | None  # what a `T` strike means when no subtitle says it


#: Kalshi crypto price series: `...D` = daily/hourly "above" ladders, bare = range ladders.
KALSHI_SERIES: dict[str, KalshiSeries] = {
    "KXBTCD": KalshiSeries("btc", "cfbenchmarks:BRTI", TargetKind.ABOVE),
    "KXBTC": KalshiSeries("btc", "cfbenchmarks:BRTI", None),
    "KXETHD": KalshiSeries("eth", "cfbenchmarks:ETHUSD_RTI", TargetKind.ABOVE),
    "KXETH": KalshiSeries("eth", "cfbenchmarks:ETHUSD_RTI", None),
    "KXSOLD": KalshiSeries("sol", "cfbenchmarks:SOLUSD_RTI", TargetKind.ABOVE),
    "KXSOL": KalshiSeries("sol", "cfbenchmarks:SOLUSD_RTI", None),
    "KXXRPD": KalshiSeries("xrp", "cfbenchmarks:XRPUSD_RTI", TargetKind.ABOVE),
    "KXXRP": KalshiSeries("xrp", "cfbenchmarks:XRPUSD_RTI", None),
    "KXDOGED": KalshiSeries("doge", "cfbenchmarks:DOGEUSD_RTI", TargetKind.ABOVE),
    "KXDOGE": KalshiSeries("doge", "cfbenchmarks:DOGEUSD_RTI", None),
}
KALSHI_WINDOW_S = 60

_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_KALSHI_TICKER = re.compile(r"^(?P<series>[A-Z]+)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?P<hh>\d{2})-(?P<kind>[TB])(?P<num>\d+(?:\.\d+)?)$")
_NUMBER = r"\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"


class NotATarget(ValueError):
    """A crypto listing that is not a price target this system can price (the reason says why)."""


def _amount(text: str) -> float:
    return float(text.replace(",", "").replace("$", "").strip())


def parse_kalshi(listing: MarketListing) -> CryptoTarget:
    m = _KALSHI_TICKER.match(listing.market_id)
    if m is None:
        raise NotATarget(f"Kalshi ticker {listing.market_id!r} is not SERIES-YYMONDDHH-T/B<strike>")
    series = KALSHI_SERIES.get(m["series"])
    if series is None:
        raise NotATarget(f"Kalshi series {m['series']!r} is not a known crypto price series")
    if m["mon"] not in _MONTHS:
        raise NotATarget(f"Kalshi ticker {listing.market_id!r}: month {m['mon']!r}")
    local = datetime(2000 + int(m["yy"]), _MONTHS[m["mon"]], int(m["dd"]), int(m["hh"]), tzinfo=ET)
    expiry = int(local.astimezone(timezone.utc).timestamp() * 1000)
    rule = ResolutionRule(series.index, KALSHI_WINDOW_S)
    words = f"{listing.yes_outcome} {listing.subtitle}".lower()
    if m["kind"] == "B":
        bounds = re.findall(_NUMBER, f"{listing.yes_outcome} {listing.subtitle}")
        if len(bounds) < 2 or " to " not in words:
            raise NotATarget(f"Kalshi range {listing.market_id}: bounds need a subtitle like '$72,500 to 72,999.99'")
        low, high = _amount(bounds[0]), _amount(bounds[1])
        return CryptoTarget(series.asset, TargetKind.BETWEEN, expiry, rule, strike=low, strike_high=high)
    strike = float(m["num"])
    if "below" in words or "less" in words:
        kind = TargetKind.BELOW
    elif "above" in words or "more" in words or "greater" in words:
        kind = TargetKind.ABOVE
    elif series.threshold_kind is not None:
        kind = series.threshold_kind
    else:
        raise NotATarget(f"Kalshi {listing.market_id}: a tail of a range ladder needs its subtitle ('or above'/'or below')")
    return CryptoTarget(series.asset, kind, expiry, rule, strike=strike)


_UPDOWN = re.compile(
    r"^(?P<asset>[A-Za-z]+) Up or Down - (?P<month>[A-Za-z]+) (?P<day>\d{1,2}),? "
    r"(?P<start>\d{1,2}(?::\d{2})?(?:AM|PM))(?:-(?P<end>\d{1,2}(?::\d{2})?(?:AM|PM)))? ET$"
)
_THRESHOLD = re.compile(
    r"(?i)\b(?P<asset>bitcoin|btc|ethereum|eth|ether|solana|sol|xrp|dogecoin|doge)\b.*?"
    r"\b(?P<verb>above|below|greater than|less than|reach|hit|dip to|fall to)\s+" + _NUMBER
)
_CHAINLINK = re.compile(r"(?i)chainlink.*?\b([a-z]+)[/-]usd\b")
_BINANCE = re.compile(r"(?i)binance\b.*?\b([A-Z]{2,6})\s*/?\s*(USDT|USDC|USD)\b")


def _rule_polymarket(listing: MarketListing) -> ResolutionRule:
    text = f"{listing.rules}\n{listing.resolution_source}"
    if (m := _CHAINLINK.search(text)) is not None:
        return ResolutionRule(f"chainlink:{m[1].lower()}-usd", 0)
    if (m := _BINANCE.search(text)) is not None:
        return ResolutionRule(f"binance:{m[1].upper()}{m[2].upper()}", 0)
    raise NotATarget(f"Polymarket {listing.market_id}: resolution index not recognised in its rules")


def _et_time(text: str, year: int, month: str, day: int) -> int:
    fmt = "%Y %B %d %I:%M%p" if ":" in text else "%Y %B %d %I%p"
    local = datetime.strptime(f"{year} {month} {day} {text}", fmt).replace(tzinfo=ET)
    return int(local.astimezone(timezone.utc).timestamp() * 1000)


def parse_polymarket(listing: MarketListing) -> CryptoTarget:
    title = listing.title.strip()
    if listing.close_ts is None:
        raise NotATarget(f"Polymarket {listing.market_id}: no end time")
    if (m := _UPDOWN.match(title)) is not None:
        asset = asset_of(m["asset"])
        if asset is None:
            raise NotATarget(f"Polymarket {listing.market_id}: unknown asset {m['asset']!r}")
        year = datetime.fromtimestamp(listing.close_ts / 1000, ET).year
        start = _et_time(m["start"], year, m["month"], int(m["day"]))
        if m["end"] is not None:
            end = _et_time(m["end"], year, m["month"], int(m["day"]))
            if end <= start:  # a window across midnight
                end += 24 * 3_600_000
        else:
            end = start + 3_600_000  # "2PM ET": the hour from 2 to 3
        if end != listing.close_ts:
            raise NotATarget(f"Polymarket {listing.market_id}: title window ends {end}, market ends {listing.close_ts}")
        return CryptoTarget(asset, TargetKind.UP, end, _rule_polymarket(listing), window_start_ts=start)
    if (m := _THRESHOLD.search(title)) is not None:
        asset = asset_of(m["asset"])
        assert asset is not None
        verb = m["verb"].lower()
        strike = _amount(m[3])
        kind = {"above": TargetKind.ABOVE, "greater than": TargetKind.ABOVE, "below": TargetKind.BELOW, "less than": TargetKind.BELOW}.get(
            verb, TargetKind.TOUCH
        )
        return CryptoTarget(asset, kind, listing.close_ts, _rule_polymarket(listing), strike=strike)
    raise NotATarget(f"Polymarket {listing.market_id}: title {title!r} is not a price target")


def parse_listing(listing: MarketListing) -> CryptoTarget:
    """The target a crypto listing asks about, or NotATarget with the reason."""
    if listing.venue is Venue.KALSHI:
        return parse_kalshi(listing)
    if listing.venue is Venue.POLYMARKET:
        return parse_polymarket(listing)
    raise NotATarget(f"no crypto parser for venue {listing.venue.value}")
