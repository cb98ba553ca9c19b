"""Venue economics listings -> EconTarget.

Kalshi tickers are `<SERIES>-<YY><MON>-T<number>` (monthly figures) or
`<SERIES>-<YY>Q<n>-T<number>` (quarterly); the number is the strike of an
"above" market. Polymarket titles name the indicator, a direction and a number
("Will the US unemployment rate be above 4.5% in November 2025?"). No recorded
economics listing of either venue is available to this project: these formats
follow the venues' published market pages and are tested on constructed examples.
"""

from __future__ import annotations

import re
from datetime import datetime

from schemas.enums import Venue
from schemas.records import MarketListing
from streams.economics.target import EconTarget

#: Kalshi series -> (indicator, publication step of the figure it settles on).
KALSHI_SERIES: dict[str, tuple[str, float]] = {
    "KXCPI": ("cpi", 0.1),
    "KXCPICORE": ("core_cpi", 0.1),
    "KXPCECORE": ("core_pce", 0.1),
    "KXU3": ("unrate", 0.1),
    "KXPAYROLLS": ("payrolls", 1.0),
    "KXGDP": ("gdp", 0.1),
    "KXJOBLESSCLAIMS": ("claims", 1000.0),
    "KXFED": ("fed_upper", 0.25),
}
#: Indicator names in titles, most specific first.
TITLE_INDICATORS: tuple[tuple[str, str, float], ...] = (
    (r"core\s+cpi", "core_cpi", 0.1),
    (r"core\s+pce", "core_pce", 0.1),
    (r"\bcpi\b|inflation", "cpi", 0.1),
    (r"unemployment(\s+rate)?", "unrate", 0.1),
    (r"payrolls|jobs\s+report|jobs\s+added", "payrolls", 1.0),
    (r"\bgdp\b", "gdp", 0.1),
    (r"jobless\s+claims", "claims", 1000.0),
    (r"fed(eral)?\s+funds|fed\s+(upper|target)", "fed_upper", 0.25),
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_KALSHI = re.compile(r"^(?P<series>[A-Z][A-Z0-9]*)-(?P<yy>\d{2})(?:(?P<mon>[A-Z]{3})|Q(?P<q>[1-4]))-T(?P<num>-?\d+(?:\.\d+)?)$")
_TITLE_DIRECTION = re.compile(r"(?i)\b(?P<dir>above|more than|greater than|at least|below|less than|under)\s+(?P<num>-?\d[\d,]*(?:\.\d+)?)\s*(?P<k>k\b)?")
_TITLE_PERIOD = re.compile(r"(?i)\b(?P<month>january|february|march|april|may|june|july|august|september|october|november|december)(?:\s+(?P<year>\d{4}))?")


class NotATarget(ValueError):
    """An economics listing this system cannot price (the reason says why)."""


#: Indicators the venues list that the release model does not forecast, with the reason a listing is refused.
UNFORECAST = {"claims": "jobless claims are published weekly; the release model forecasts monthly and quarterly figures"}



def _on_grid(x: float, step: float) -> float:
    return round(round(x / step) * step, 10)


def _above(indicator: str, period: str, strike: float, step: float) -> EconTarget:
    """"> strike" on a grid of `step` is ">= the next grid point above strike"."""
    nxt = _on_grid(strike, step)
    if nxt <= strike + 1e-9:
        nxt = _on_grid(nxt + step, step)
    return EconTarget(indicator, period, nxt, step)


def parse_kalshi(listing: MarketListing) -> tuple[EconTarget, str]:
    m = _KALSHI.match(listing.market_id)
    if m is None:
        raise NotATarget(f"Kalshi ticker {listing.market_id!r} is not SERIES-YYMON-T<strike>")
    if m["series"] not in KALSHI_SERIES:
        raise NotATarget(f"Kalshi series {m['series']!r} is not a followed economics series")
    indicator, step = KALSHI_SERIES[m["series"]]
    year = 2000 + int(m["yy"])
    if m["mon"] is not None:
        if m["mon"] not in _MONTHS:
            raise NotATarget(f"Kalshi ticker {listing.market_id!r}: month {m['mon']!r}")
        month = _MONTHS.index(m["mon"]) + 1
    else:
        month = 3 * (int(m["q"]) - 1) + 1
    return _above(indicator, f"{year:04d}-{month:02d}-01", float(m["num"]), step), "a"


def parse_polymarket(listing: MarketListing) -> tuple[EconTarget, str]:
    title = listing.title
    found = next(((ind, step) for pat, ind, step in TITLE_INDICATORS if re.search(pat, title, re.I)), None)
    if found is None:
        raise NotATarget(f"Polymarket {listing.market_id}: no followed indicator in {title!r}")
    indicator, step = found
    d = _TITLE_DIRECTION.search(title)
    p = _TITLE_PERIOD.search(title)
    if d is None or p is None:
        raise NotATarget(f"Polymarket {listing.market_id}: {title!r} needs a direction, a number and a month")
    num = float(d["num"].replace(",", ""))
    if indicator == "payrolls" and d["k"] is None and abs(num) >= 1000:
        num /= 1000  # payrolls settle in thousands of jobs
    year = int(p["year"]) if p["year"] else (datetime.utcfromtimestamp(listing.close_ts / 1000).year if listing.close_ts else None)
    if year is None:
        raise NotATarget(f"Polymarket {listing.market_id}: no year in the title and no end time")
    month = datetime.strptime(p["month"][:3].title(), "%b").month
    period = f"{year:04d}-{month:02d}-01"
    word = d["dir"].lower()
    if word == "at least":
        return EconTarget(indicator, period, _on_grid(num, step), step), "a"
    if word in ("below", "less than", "under"):
        return EconTarget(indicator, period, _on_grid(num, step), step), "b"  # "< X" is the NO side of ">= X"
    return _above(indicator, period, num, step), "a"


def parse_listing(listing: MarketListing) -> tuple[EconTarget, str]:
    """The target a listing asks about and which side of it ("a" = >= threshold, "b" = below) its YES is."""
    if listing.venue is Venue.KALSHI:
        parsed = parse_kalshi(listing)
    elif listing.venue is Venue.POLYMARKET:
        parsed = parse_polymarket(listing)
    else:
        raise NotATarget(f"no economics parser for venue {listing.venue.value}")
    why = UNFORECAST.get(parsed[0].indicator)
    if why is not None:
        raise NotATarget(f"{listing.venue.value} {listing.market_id}: {why}")
    return parsed
