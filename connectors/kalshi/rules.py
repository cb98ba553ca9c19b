"""Kalshi market rules → ResolutionRule: what a game-winner market pays on, read from its own fields.

Kalshi words every game-winner market the same way (recorded: KXNFLGAME fixture,
KXNCAAMBGAME and KXNBAGAME objects, see data/sessions/nba-2026-finals-g3/listings):

- `rules_primary`: "If <team> wins the <game> <sport> game originally scheduled for
  <Mon D, YYYY>[ at <h:mm AM|PM> EDT|EST], then the market resolves to Yes."
- `rules_secondary`: the tie clause ("If the game ends in a tie, the market will
  resolve to $0.50 for each team"), the postponement clause ("remain open and close
  after the rescheduled game has finished (within two weeks)", "begins within 48
  hours") and the void clause ("resolve to a fair price").
- `expected_expiration_time` / `latest_expiration_time`: when it should and must settle.
- the series' `settlement_sources` (GET /series): the result authority.

A market whose words do not fit is still normalized; its rule says UNKNOWN and
`note` says which sentence was not understood, so it never pairs by accident.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.kalshi.messages import rfc3339_ms
from schemas.enums import OutcomeBasis, TieRule, VoidRule
from schemas.records import ResolutionRule

_PRIMARY = re.compile(
    r"^If (?P<yes>.+?) wins the (?P<subject>.+?) (?:originally )?scheduled for "
    r"(?P<date>[A-Z][a-z]{2} \d{1,2}, \d{4})(?: at (?P<time>\d{1,2}:\d{2} [AP]M) (?P<tz>E[SD]T))?"
    r"(?P<rest>.*?), then the market resolves to Yes\.?$",
    re.S,
)
#: Words that make a market about part of a game (a half, an inning count) rather than its winner.
_PARTIAL = re.compile(r"\b(1st|2nd|first|second|3rd|third|4th|fourth) (half|quarter|period|set|map|\d+ innings?)\b|"
                      r"\bfirst \d+ innings\b|\binnings? \d\b", re.I)
_REGULATION = re.compile(r"\bregulation\b|\b90 minutes\b", re.I)
_TIE_HALF = re.compile(r"\btie\b[^.]*\$0\.50|\btie\b[^.]*50/50|\bdraw\b[^.]*\$0\.50", re.I)
_TIE_STRIKE = re.compile(r"\"?Tie\"? strike will resolve to Yes", re.I)
_MAKEUP = re.compile(
    r"remain open and (?:close|resolve)[^.]*?(?:rescheduled game has finished|official final result)"
    r"|postponed but begins within", re.I)
_WINDOW = re.compile(r"within (?P<n>\d+|one|two|three|seven|fourteen) (?P<unit>hours?|days?|weeks?)", re.I)
_FAIR = re.compile(r"fair (?:market )?price", re.I)
_WORDS = {"one": 1, "two": 2, "three": 3, "seven": 7, "fourteen": 14}
_UNIT_MS = {"hour": 3_600_000, "day": 86_400_000, "week": 7 * 86_400_000}
#: Kalshi's stated local clock is US Eastern; EDT/EST name the offset.
_ET = {"EDT": timezone(timedelta(hours=-4)), "EST": timezone(timedelta(hours=-5))}


def _window_ms(text: str) -> int | None:
    m = _WINDOW.search(text)
    if m is None:
        return None
    n = m.group("n").lower()
    count = int(n) if n.isdigit() else _WORDS[n]
    return count * _UNIT_MS[m.group("unit").lower().rstrip("s")]


def _time(market: dict[str, Any], key: str) -> int | None:
    value = market.get(key)
    return rfc3339_ms(value, f"market.{key}") if value not in (None, "") else None


def settlement_source(series: dict[str, Any] | None) -> str:
    """The first settlement source a series names (`settlement_sources: [{name, url}]`), url preferred."""
    sources = (series or {}).get("settlement_sources")
    if not isinstance(sources, list):
        return ""
    for s in sources:
        if isinstance(s, dict) and (s.get("url") or s.get("name")):
            return str(s.get("url") or s.get("name"))
    return ""


def kalshi_rule(market: dict[str, Any], source: str = "") -> ResolutionRule:
    """The rule of one market of GET /markets; `source` is its series' settlement source, if known."""
    primary = " ".join(str(market.get("rules_primary") or "").split())
    secondary = " ".join(str(market.get("rules_secondary") or "").split())
    fields = ",".join(k for k in ("rules_primary", "rules_secondary", "expected_expiration_time",
                                  "latest_expiration_time") if market.get(k))
    base = dict(
        parsed_from=fields + (",series.settlement_sources" if source else ""),
        source=source,
        expected_settle_ts=_time(market, "expected_expiration_time"),
        latest_settle_ts=_time(market, "latest_expiration_time") or _time(market, "expiration_time"),
    )
    m = _PRIMARY.match(primary)
    if m is None:
        return ResolutionRule(**base, note=f"rules_primary is not a game-winner sentence: {primary[:120]!r}")
    date = datetime.strptime(m.group("date"), "%b %d, %Y").date()
    start_ts = None
    if m.group("time"):
        local = datetime.strptime(f"{m.group('date')} {m.group('time')}", "%b %d, %Y %I:%M %p")
        start_ts = int(local.replace(tzinfo=_ET[m.group("tz")]).timestamp() * 1000)
    subject = m.group("subject")
    notes = []
    if _PARTIAL.search(primary) or _PARTIAL.search(subject):
        outcome = OutcomeBasis.UNKNOWN
        notes.append("the market is about part of the game, not its winner")
    elif _REGULATION.search(primary) or _REGULATION.search(secondary):
        outcome = OutcomeBasis.REGULATION
    else:
        outcome = OutcomeBasis.FINAL_RESULT  # "wins the game": the official winner, overtime included
    if _TIE_STRIKE.search(secondary):
        tie = TieRule.DRAW_OUTCOME
    elif _TIE_HALF.search(secondary):
        tie = TieRule.HALF_EACH
    else:
        tie = TieRule.NOT_STATED
    follows = bool(_MAKEUP.search(secondary))
    if not follows:
        notes.append("rules_secondary states no postponement clause")
    void = VoidRule.FAIR_PRICE if _FAIR.search(secondary) else VoidRule.UNKNOWN
    if void is VoidRule.UNKNOWN:
        notes.append("rules_secondary states no cancellation payout")
    return ResolutionRule(
        **base,
        subject=subject,
        yes_entity=m.group("yes"),
        event_date=date.isoformat(),
        start_ts=start_ts,
        outcome=outcome,
        tie=tie,
        follows_makeup=follows,
        makeup_window_ms=_window_ms(secondary) if follows else None,
        void=void,
        note="; ".join(notes),
    )
