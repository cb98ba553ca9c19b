"""Polymarket gamma market → ResolutionRule: what a game market pays on, read from its own fields.

Polymarket words its game moneylines one way (recorded: market 2415863 Spurs vs.
Knicks, 570439 Brewers vs. Nationals, the CS2 moneyline fixture):

- `description`: "In the upcoming NBA game, scheduled for June 8 at 8:30PM ET: If the
  Spurs win, the market will resolve to "Spurs". … If the game is postponed, this market
  will remain open until the game has been completed. If the game is canceled entirely,
  with no make-up game, this market will resolve 50-50. The result will be determined
  based on the final score including any overtime periods."
- `resolutionSource` (the authority), `gameStartTime` (the scheduled start),
  `sportsMarketType` ("moneyline" for a winner market), `outcomes`.

`endDate` is when trading is scheduled to end, not when the market settles (for
2415863 it is 30 minutes *before* the tip), so it is not used as a settle time.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from connectors.polymarket.gamma import GammaMarket
from schemas.enums import OutcomeBasis, TieRule, VoidRule
from schemas.records import ResolutionRule

_SCHEDULED = re.compile(r"scheduled for (?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})(?:,? (?P<year>\d{4}))?")
_SUBJECT = re.compile(r"[Ii]n the upcoming (?P<league>[A-Za-z0-9 .'-]+?) (?:game|match)")
_OVERTIME = re.compile(r"including any overtime|overtime (?:periods )?(?:are|is) included|extra innings", re.I)
_REGULATION = re.compile(r"\bregulation\b|\b90 minutes\b", re.I)
_TIE_HALF = re.compile(r"\b(?:tie|draw)\b[^.\n]*50-50|50-50[^.\n]*\b(?:tie|draw)\b", re.I)
_MAKEUP = re.compile(r"postponed, this market will remain open until the game has been completed", re.I)
_DELAY_WINDOW = re.compile(r"delayed beyond (?P<n>\d+) days", re.I)
_VOID = re.compile(r"(?:canceled|cancelled)[^.\n]*resolve (?:to )?50-50", re.I)
_URL = re.compile(r"resolution source for this market (?:will be|is)[^.\n]*?(?P<url>https?://\S+?)[.,]?(?:\s|$)", re.I)
_NOT_WINNER = {"spreads", "totals", "points", "props"}


def _event_date(month: str, day: str, year: str | None, start_ts: int | None) -> str:
    """The stated month/day in the year of the scheduled start (or the stated year)."""
    if year is None and start_ts is None:
        return ""
    y = int(year) if year else datetime.fromtimestamp(start_ts / 1000, timezone.utc).year  # type: ignore[operator]
    try:
        return datetime.strptime(f"{month} {day} {y}", "%B %d %Y").date().isoformat()
    except ValueError:
        return ""


def polymarket_rule(market: GammaMarket) -> ResolutionRule:
    text = market.description
    fields = ",".join(name for name, present in (
        ("description", bool(text)), ("resolutionSource", bool(market.resolution_source)),
        ("gameStartTime", market.game_start_ts is not None), ("sportsMarketType", market.sports_market_type is not None),
    ) if present)
    url = _URL.search(text)
    source = market.resolution_source or (url.group("url") if url else "")
    notes = []
    sched = _SCHEDULED.search(text)
    event_date = _event_date(sched.group("month"), sched.group("day"), sched.group("year"), market.game_start_ts) if sched else ""
    if not event_date:
        notes.append("description states no scheduled date")
    league = _SUBJECT.search(text)
    subject = f"{market.question} ({league.group('league')})" if league else market.question
    mtype = (market.sports_market_type or "").lower()
    draw = any(o.strip().lower() in ("draw", "tie") for o in market.outcomes)
    if mtype in _NOT_WINNER or mtype not in ("moneyline", ""):
        outcome = OutcomeBasis.UNKNOWN
        notes.append(f"sportsMarketType {market.sports_market_type!r} is not a game-winner market")
    elif not re.search(r"\bwins?\b", text):
        outcome = OutcomeBasis.UNKNOWN
        notes.append("description names no winner condition")
    elif _REGULATION.search(text) and not _OVERTIME.search(text):
        outcome = OutcomeBasis.REGULATION
    else:
        outcome = OutcomeBasis.FINAL_RESULT  # "If the X win": the official winner, overtime included
    tie = TieRule.DRAW_OUTCOME if draw else TieRule.HALF_EACH if _TIE_HALF.search(text) else TieRule.NOT_STATED
    window = _DELAY_WINDOW.search(text)
    follows = bool(_MAKEUP.search(text) or window)
    if not follows:
        notes.append("description states no postponement clause")
    void = VoidRule.FIFTY_FIFTY if _VOID.search(text) else VoidRule.UNKNOWN
    if void is VoidRule.UNKNOWN:
        notes.append("description states no cancellation payout")
    return ResolutionRule(
        parsed_from=fields,
        source=source,
        subject=subject,
        yes_entity=market.outcomes[0] if market.outcomes else "",
        event_date=event_date,
        start_ts=market.game_start_ts,
        outcome=outcome,
        tie=tie,
        follows_makeup=follows,
        makeup_window_ms=int(window.group("n")) * 86_400_000 if window else None,
        void=void,
        note="; ".join(notes),
    )
