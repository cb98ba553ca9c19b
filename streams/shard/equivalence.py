"""When do YES on one venue and NO on another lock $1? Decided from the two venues' rules, with reasons.

Both legs must settle from the same fact the same way in every case that can
happen: the same game on the same date (scheduled starts, where both venues state
one, within a tolerance), the same outcome definition (the official final with
overtime, or regulation only), the same tie payout where the sport can tie, the
same authority where both name one, and a postponed game followed to its make-up
on both. Cancellation payouts and make-up windows differ between venues (Kalshi:
"a fair price", make-up within two weeks; Polymarket: "50-50", no limit); they
only matter if the game is not played as scheduled, so a policy decides whether
such a pair is traded, and the difference is written into the reason either way.

Listings whose venue rules were not read (`resolution is None`: non-sports
markets) pair only on an equal, non-empty resolution source and settle times
within the settle tolerance, as before rules were read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlparse

from schemas.enums import OutcomeBasis, TieRule, VoidRule
from schemas.records import MarketListing

#: Leagues whose games always produce a winner (overtime, extra innings, shootouts): a tie rule never applies.
#: (Our league keys, plus Polymarket's series slug "cbb" for college basketball.)
NO_TIE_LEAGUES = frozenset({"nba", "wnba", "ncaab", "cbb", "mlb", "nhl", "atp", "wta"})  # MMA bouts can be drawn

_OUTCOME_WORDS = {
    OutcomeBasis.FINAL_RESULT: "the final result, overtime included",
    OutcomeBasis.REGULATION: "regulation time only",
    OutcomeBasis.UNKNOWN: "an outcome rule not understood",
}
_VOID_WORDS = {VoidRule.FAIR_PRICE: "a fair price", VoidRule.FIFTY_FIFTY: "50-50", VoidRule.UNKNOWN: "an unstated payout"}


@dataclass(frozen=True)
class PairingPolicy:
    #: Two stated scheduled starts must agree within this.
    start_tolerance_ms: int = 15 * 60_000
    #: Listings without read rules: settle (else close) times must agree within this.
    settle_tolerance_ms: int = 0
    #: Trade pairs whose payouts differ only if the game is not played as scheduled (cancelled, or a late make-up).
    accept_void_difference: bool = True


@dataclass(frozen=True)
class Verdict:
    equivalent: bool
    reason: str


def _settle_time(listing: MarketListing) -> int | None:
    return listing.settle_ts if listing.settle_ts is not None else listing.close_ts


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%MZ")


def _window(ms: int | None) -> str:
    if ms is None:
        return "no limit"
    days, rem = divmod(ms, 86_400_000)
    return f"{days} d" if not rem else f"{ms // 3_600_000} h"


def _within(ms: int | None) -> str:
    return "with no time limit" if ms is None else f"within {_window(ms)}"


def _authority(source: str) -> str:
    """A source as comparable text: the host of a URL without "www.", else the casefolded name."""
    s = source.strip()
    host = urlparse(s).netloc if "://" in s else ""
    return (host.removeprefix("www.") if host else s).casefold()


def _legacy(a: MarketListing, b: MarketListing, policy: PairingPolicy) -> Verdict:
    src_a, src_b = a.resolution_source.strip().casefold(), b.resolution_source.strip().casefold()
    ta, tb = _settle_time(a), _settle_time(b)
    if not src_a or src_a != src_b:
        return Verdict(False, f"resolution sources differ or are unstated ({a.resolution_source!r} vs {b.resolution_source!r})")
    if ta is None or tb is None or abs(ta - tb) > policy.settle_tolerance_ms:
        return Verdict(False, f"settle times {ta} and {tb} are not within {policy.settle_tolerance_ms} ms")
    return Verdict(True, f"same resolution source ({a.resolution_source}) and settle times within "
                         f"{policy.settle_tolerance_ms} ms")


def compare(a: MarketListing, b: MarketListing, policy: PairingPolicy) -> Verdict:
    """Whether the two listings' rules settle the same way, and why (one readable sentence)."""
    if (b.venue.value, b.market_id) < (a.venue.value, a.market_id):
        a, b = b, a  # the same words whichever market arrived first
    ra, rb = a.resolution, b.resolution
    if ra is None or rb is None:
        if (ra is None) != (rb is None):
            missing = a if ra is None else b
            return Verdict(False, f"{missing.venue.value} {missing.market_id}: its rules were not read")
        return _legacy(a, b, policy)
    va, vb = a.venue.value, b.venue.value
    refused: list[str] = []
    for venue, rule in ((va, ra), (vb, rb)):
        if rule.outcome is OutcomeBasis.UNKNOWN:
            refused.append(f"{venue} rule not understood ({rule.note or 'no winner condition'})")
    if not refused and ra.outcome is not rb.outcome:
        refused.append(f"{va} settles on {_OUTCOME_WORDS[ra.outcome]}, {vb} on {_OUTCOME_WORDS[rb.outcome]}")
    if not ra.event_date or not rb.event_date:
        refused.append(f"the scheduled date is not stated ({va} {ra.event_date or '-'}, {vb} {rb.event_date or '-'})")
    elif ra.event_date != rb.event_date:
        refused.append(f"different games: {va} is scheduled for {ra.event_date}, {vb} for {rb.event_date}")
    if ra.start_ts is not None and rb.start_ts is not None and abs(ra.start_ts - rb.start_ts) > policy.start_tolerance_ms:
        refused.append(f"scheduled starts differ: {va} {_utc(ra.start_ts)}, {vb} {_utc(rb.start_ts)}")
    start = ra.start_ts if ra.start_ts is not None else rb.start_ts
    for venue, rule in ((va, ra), (vb, rb)):  # settlement window: a market must still be open when the game is played
        if start is not None and rule.latest_settle_ts is not None and rule.latest_settle_ts <= start:
            refused.append(f"{venue} expires at {_utc(rule.latest_settle_ts)}, before the game starts ({_utc(start)})")
    if ra.source and rb.source and _authority(ra.source) != _authority(rb.source):
        refused.append(f"different result authorities: {va} {ra.source}, {vb} {rb.source}")
    league = (a.league or b.league or "").lower()
    if league not in NO_TIE_LEAGUES and (ra.tie is not rb.tie or ra.tie in (TieRule.NOT_STATED, TieRule.UNKNOWN)):
        refused.append(f"a tie pays differently or is unstated ({va} {ra.tie.value}, {vb} {rb.tie.value})")
    if not (ra.follows_makeup and rb.follows_makeup):
        refused.append(f"a postponed game is not followed to its make-up on both ({va} {ra.follows_makeup}, "
                       f"{vb} {rb.follows_makeup})")
    risks: list[str] = []
    if ra.void is not rb.void or ra.void is VoidRule.UNKNOWN:
        risks.append(f"cancelled with no make-up: {va} pays {_VOID_WORDS[ra.void]}, {vb} {_VOID_WORDS[rb.void]}")
    if ra.makeup_window_ms != rb.makeup_window_ms and ra.follows_makeup and rb.follows_makeup:
        short, long_ = sorted(((va, ra), (vb, rb)), key=lambda p: p[1].makeup_window_ms or 2**62)
        risks.append(f"make-up later than {_window(short[1].makeup_window_ms)}: {short[0]} pays "
                     f"{_VOID_WORDS[short[1].void]}, {long_[0]} follows the make-up")
    if risks and not policy.accept_void_difference:
        refused.append("payouts differ if the game is not played as scheduled (" + "; ".join(risks) + ")")
    if refused:
        return Verdict(False, "not equivalent: " + "; ".join(refused))
    when = ra.event_date
    starts = [f"{v} start {_utc(r.start_ts)}" for v, r in ((va, ra), (vb, rb)) if r.start_ts is not None]
    parts = [
        f"same game ({league.upper() or 'league unknown'}, {when}" + (f"; {', '.join(starts)}" if starts else "") + ")",
        f"both settle on {_OUTCOME_WORDS[ra.outcome]}",
        f"a postponed game follows its make-up on both ({va} {_within(ra.makeup_window_ms)}, "
        f"{vb} {_within(rb.makeup_window_ms)})",
    ]
    windows = [f"{v} expected {_utc(r.expected_settle_ts)}" for v, r in ((va, ra), (vb, rb)) if r.expected_settle_ts is not None]
    windows += [f"{v} at the latest {_utc(r.latest_settle_ts)}" for v, r in ((va, ra), (vb, rb)) if r.latest_settle_ts is not None]
    if windows:
        parts.append("settlement after the game (" + ", ".join(windows) + ")")
    if ra.source and rb.source:
        parts.append(f"same authority ({_authority(ra.source)})")
    else:
        unnamed = [v for v, r in ((va, ra), (vb, rb)) if not r.source]
        parts.append(f"{' and '.join(unnamed)} names no authority in its payload; both settle on the game's official result")
    reason = "equivalent: " + "; ".join(parts)
    if risks:
        reason += "; residual risk, accepted: " + "; ".join(risks)
    return Verdict(True, reason)
