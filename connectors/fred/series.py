"""The FRED series markets settle on, the release each comes out in, and how it is published.

Release ids are FRED's (as named in the recorded `/fred/releases/dates` answer, tests/fixtures/fred/): 10 Consumer Price Index, 50 Employment
Situation, 53 Gross Domestic Product, 54 Personal Income and Outlays, 180
Unemployment Insurance Weekly Claims, 101 FOMC press release (the target range).
The release hour is the publisher's (BLS and BEA at 8:30 ET, the FOMC statement at
14:00 ET), which the FRED calendar (dates only) does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    series_id: str
    indicator: str  # the key markets are matched on
    release_id: int
    release_hour_et: tuple[int, int]
    #: What a market's number refers to: "mom_pct" (percent change from the prior period),
    #: "level" (the value itself) or "change" (the difference from the prior period).
    settles_on: str
    step: float  # the publication's rounding of that number


SERIES: dict[str, Series] = {
    s.series_id: s
    for s in (
        Series("CPIAUCSL", "cpi", 10, (8, 30), "mom_pct", 0.1),
        Series("CPILFESL", "core_cpi", 10, (8, 30), "mom_pct", 0.1),
        Series("PCEPILFE", "core_pce", 54, (8, 30), "mom_pct", 0.1),
        Series("UNRATE", "unrate", 50, (8, 30), "level", 0.1),
        Series("PAYEMS", "payrolls", 50, (8, 30), "change", 1.0),
        Series("GDPC1", "gdp", 53, (8, 30), "qoq_saar_pct", 0.1),
        Series("ICSA", "claims", 180, (8, 30), "level", 1000.0),
        Series("DFEDTARU", "fed_upper", 101, (14, 0), "level", 0.25),
    )
}
BY_INDICATOR = {s.indicator: s for s in SERIES.values()}
