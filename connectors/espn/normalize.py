"""Pure functions from ESPN scoreboard payloads to EventState records.

The receive time is an argument: ESPN's scoreboard carries no time of its own,
so the time the response was fetched (RawFeed.fetched_at) is the event time of
every state read from it. Nothing here reads the clock, so replaying a recorded
response yields byte-identical records (deterministic `state_id`).

Entity `a` is the home side, `b` the away side (individual sports: the side
ESPN lists first). One malformed event is rejected on its own so that the
other games of the same scoreboard still flow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from connectors.espn.baseball import from_scoreboard
from connectors.espn.errors import BadPayload
from connectors.espn.fields import american_odds, arr, integer, iso_ms, number, obj, reading, req, text
from connectors.espn.leagues import FOOTBALL, League
from connectors.espn.pregame import line_prior, provider_source
from schemas.enums import EventStatus, MarketType
from schemas.records import EventState

SOURCE = "espn"

#: ESPN `status.type.name` → our status. Names outside the table fall back on
#: `status.type.state` (pre/in/post); a name we do not know with a state we do
#: not know is refused rather than guessed.
STATUS_BY_NAME: dict[str, EventStatus] = {
    "STATUS_SCHEDULED": EventStatus.SCHEDULED,
    "STATUS_IN_PROGRESS": EventStatus.LIVE,
    "STATUS_FIRST_HALF": EventStatus.LIVE,
    "STATUS_SECOND_HALF": EventStatus.LIVE,
    "STATUS_OVERTIME": EventStatus.LIVE,
    "STATUS_SHOOTOUT": EventStatus.LIVE,
    "STATUS_HALFTIME": EventStatus.BREAK,
    "STATUS_END_PERIOD": EventStatus.BREAK,
    "STATUS_END_OF_REGULATION": EventStatus.BREAK,
    "STATUS_END_OF_EXTRATIME": EventStatus.BREAK,
    "STATUS_END_OF_ROUND": EventStatus.BREAK,
    "STATUS_FINAL": EventStatus.FINAL,
    "STATUS_FULL_TIME": EventStatus.FINAL,
    "STATUS_FINAL_AET": EventStatus.FINAL,
    "STATUS_FINAL_PEN": EventStatus.FINAL,
    "STATUS_RETIRED": EventStatus.FINAL,
    "STATUS_WALKOVER": EventStatus.FINAL,
    "STATUS_FORFEIT": EventStatus.FINAL,
    "STATUS_POSTPONED": EventStatus.POSTPONED,
    "STATUS_CANCELED": EventStatus.CANCELED,
    "STATUS_ABANDONED": EventStatus.CANCELED,
    "STATUS_SUSPENDED": EventStatus.SUSPENDED,
    "STATUS_RAIN_DELAY": EventStatus.SUSPENDED,
}
_STATUS_BY_STATE = {"pre": EventStatus.SCHEDULED, "in": EventStatus.LIVE}

#: Soccer clocks count up (elapsed match seconds); a half is 45 minutes.
SOCCER_HALF_S = 45 * 60
#: Sports whose `status.clock` is the time left in the period.
COUNTDOWN_FAMILIES = frozenset({"football", "basketball", "hockey"})
#: Sports whose overall record summary is wins-losses[-ties] (recorded: NFL "8-3-1", NBA "15-7").
#: Hockey's third number is overtime losses and soccer's order is not confirmed by a recording,
#: so their records are not read rather than read wrong.
RECORD_FAMILIES = frozenset({"football", "basketball"})
_RECORD = re.compile(r"^(\d+)-(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class Rejected:
    """One part of a payload that did not fit, with the bytes to dead-letter."""

    where: str
    ref: str  # ESPN id of the event, when it could be read
    value: bytes
    error: BadPayload


@dataclass(frozen=True)
class ScoreboardResult:
    states: tuple[EventState, ...]
    rejected: tuple[Rejected, ...]


def parse_body(body: str, where: str = "body") -> dict[str, Any]:
    """The JSON object of a response body; anything else is bad input."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise BadPayload(where, f"not JSON: {exc}") from None
    return obj(payload, where)


def event_id_of(lg: League, espn_id: str) -> str:
    return f"{SOURCE}:{lg.key}:{espn_id}"


def map_status(status: dict[str, Any], where: str) -> EventStatus:
    st = obj(req(status, "type", where), f"{where}.type")
    name = text(req(st, "name", f"{where}.type"), f"{where}.type.name")
    state = st.get("state")
    if name == "STATUS_DELAYED":  # a delayed start is still pre-game; a delay in play is a suspension
        return EventStatus.SCHEDULED if state == "pre" else EventStatus.SUSPENDED
    if name in STATUS_BY_NAME:
        return STATUS_BY_NAME[name]
    if state in _STATUS_BY_STATE:
        return _STATUS_BY_STATE[state]
    if state == "post" and st.get("completed") is True:
        return EventStatus.FINAL
    raise BadPayload(f"{where}.type", f"unknown status {name!r} (state {state!r})")


def scoreboard_states(lg: League, payload: dict[str, Any], received_ms: int) -> ScoreboardResult:
    """Every game of one league's scoreboard; bad events are returned as `rejected`."""
    events = arr(req(payload, "events", "scoreboard"), "scoreboard.events")
    states: list[EventState] = []
    rejected: list[Rejected] = []
    for i, event in enumerate(events):
        where = f"events[{i}]"
        try:
            with reading(where):
                states.extend(event_states(lg, obj(event, where), received_ms, where))
        except BadPayload as exc:
            ref = str(event.get("id", "")) if isinstance(event, dict) else ""
            value = json.dumps(event, sort_keys=True).encode()
            rejected.append(Rejected(where=where, ref=ref, value=value, error=exc))
    return ScoreboardResult(states=tuple(states), rejected=tuple(rejected))


def event_states(lg: League, event: dict[str, Any], received_ms: int, where: str = "event") -> list[EventState]:
    """The states of one scoreboard event: one game, or each match of a tournament or card."""
    if not lg.individual:
        comps = arr(req(event, "competitions", where), f"{where}.competitions")
        if not comps:
            raise BadPayload(f"{where}.competitions", "empty")
        return [competition_state(lg, event, obj(comps[0], f"{where}.competitions[0]"), received_ms, where=f"{where}.competitions[0]")]
    matches: list[tuple[str, dict[str, Any]]] = []
    for g, grouping in enumerate(event.get("groupings") or []):  # tennis: draws hold the matches
        gw = f"{where}.groupings[{g}]"
        for c, comp in enumerate(arr(req(obj(grouping, gw), "competitions", gw), f"{gw}.competitions")):
            matches.append((f"{gw}.competitions[{c}]", obj(comp, f"{gw}.competitions[{c}]")))
    if not matches:  # MMA: the card's competitions are the fights
        for c, comp in enumerate(arr(req(event, "competitions", where), f"{where}.competitions")):
            matches.append((f"{where}.competitions[{c}]", obj(comp, f"{where}.competitions[{c}]")))
    return [competition_state(lg, event, comp, received_ms, where=w, per_match=True) for w, comp in matches]


@dataclass(frozen=True)
class _Side:
    espn_id: str
    name: str
    abbr: str
    score: int | None
    winner: bool | None
    has_ball: bool | None  # summary headers flag the side in possession
    record: tuple[int, int, int | None] | None  # season wins, losses, ties (None: not shown) before a live game


def _side(lg: League, c: dict[str, Any], where: str) -> _Side:
    who = c.get("team") or c.get("athlete")
    if not isinstance(who, dict):
        raise BadPayload(where, "competitor has neither team nor athlete")
    espn_id = text(c.get("id") or req(who, "id", where), f"{where}.id")
    name = text(who.get("displayName") or who.get("fullName") or req(who, "name", where), f"{where}.name")
    abbr = str(who.get("abbreviation") or who.get("shortName") or "")
    raw_score = c.get("score")
    if isinstance(raw_score, dict):  # some endpoints nest {"value": 3.0, "displayValue": "3"}
        raw_score = raw_score.get("value")
    score = None if raw_score in (None, "") else integer(raw_score, f"{where}.score")
    winner = c.get("winner") if isinstance(c.get("winner"), bool) else None
    has_ball = c.get("possession") if isinstance(c.get("possession"), bool) else None
    record = _overall_record(c, where) if lg.family in RECORD_FAMILIES else None
    return _Side(espn_id, name, abbr, score, winner, has_ball, record)


def _overall_record(c: dict[str, Any], where: str) -> tuple[int, int, int | None] | None:
    """Wins, losses and ties of the record of type "total".

    Scoreboards list them under `records`, summary headers under `record`
    (same items). Live games show the record before the game being played,
    which is what the football model's record prior is fitted on.
    """
    key = "records" if "records" in c else "record"
    for i, rec in enumerate(arr(c.get(key) or [], f"{where}.{key}")):
        rec = obj(rec, f"{where}.{key}[{i}]")
        if rec.get("type") != "total":
            continue
        summary = text(req(rec, "summary", f"{where}.{key}[{i}]"), f"{where}.{key}[{i}].summary")
        m = _RECORD.match(summary.strip())
        if not m:
            raise BadPayload(f"{where}.{key}[{i}].summary", f"record {summary!r} is not wins-losses[-ties]")
        return int(m.group(1)), int(m.group(2)), None if m.group(3) is None else int(m.group(3))
    return None


def _side_features(home: _Side, away: _Side, comp: dict[str, Any], where: str) -> dict[str, float]:
    """Season records of both sides (ties only when ESPN shows them) and the neutral-site flag."""
    out: dict[str, float] = {}
    for side, suffix in ((home, "a"), (away, "b")):
        if side.record is None:
            continue
        wins, losses, ties = side.record
        out[f"record_wins_{suffix}"] = float(wins)
        out[f"record_losses_{suffix}"] = float(losses)
        if ties is not None:
            out[f"record_ties_{suffix}"] = float(ties)
    neutral = comp.get("neutralSite")
    if neutral is not None:
        if not isinstance(neutral, bool):
            raise BadPayload(f"{where}.neutralSite", f"expected true/false, got {neutral!r}")
        out["neutral_site"] = float(neutral)
    return out


def _home_away(lg: League, comp: dict[str, Any], where: str) -> tuple[_Side, _Side]:
    comps = arr(req(comp, "competitors", where), f"{where}.competitors")
    if len(comps) != 2:
        raise BadPayload(f"{where}.competitors", f"expected 2 competitors, got {len(comps)}")
    cs = [obj(c, f"{where}.competitors[{i}]") for i, c in enumerate(comps)]
    roles = [c.get("homeAway") for c in cs]
    if sorted(r for r in roles if r) == ["away", "home"]:
        home, away = (cs[0], cs[1]) if roles[0] == "home" else (cs[1], cs[0])
    elif lg.individual:  # no home side: ESPN's listing order
        home, away = sorted(cs, key=lambda c: c.get("order", 0))
    else:
        raise BadPayload(f"{where}.competitors", f"need one home and one away competitor, got {roles}")
    return _side(lg, home, f"{where}.competitors[home]"), _side(lg, away, f"{where}.competitors[away]")


def _sided(comp: dict[str, Any]) -> bool:
    """True when the competitors carry one home and one away role (what odds sides refer to)."""
    roles = sorted(str(c.get("homeAway")) for c in comp.get("competitors") or [] if isinstance(c, dict))
    return roles == ["away", "home"]


def _clock_seconds(lg: League, status: EventStatus, st: dict[str, Any], period: int, where: str) -> float | None:
    if status in (EventStatus.SCHEDULED, EventStatus.POSTPONED, EventStatus.CANCELED):
        return None
    if lg.family not in COUNTDOWN_FAMILIES and lg.family != "soccer":
        return None  # baseball, tennis: no game clock; MMA clock semantics are not confirmed by a recording
    if status is EventStatus.FINAL:
        return 0.0  # summaries of finished games carry no clock; the final whistle is 0 left
    if "clock" not in st:
        return None
    clock = number(st["clock"], f"{where}.clock")
    if lg.family == "soccer":
        return max(0.0, min(2, max(period, 1)) * SOCCER_HALF_S - clock)
    return clock


def _odds(lg: League, home: _Side, away: _Side, odds: list[Any], where: str) -> tuple[float | None, float | None, dict[str, float]]:
    """Pregame spread for the home side, total, and moneylines from the first (top-priority) provider.

    ESPN's `spread` is the home side's line ("KC -3.5" with KC at home → -3.5,
    "DEN -8.5" with DEN away → +8.5 in the recorded scoreboards). `details`
    names the favourite; when both are present they must agree.
    """
    if not odds:
        return None, None, {}
    ranked = sorted((obj(o, f"{where}.odds[{i}]") for i, o in enumerate(odds)), key=lambda o: (o.get("provider") or {}).get("priority", 99))
    o = ranked[0]
    spread = number(o["spread"], f"{where}.odds.spread") if o.get("spread") not in (None, "") else None
    details = o.get("details")
    from_details = _spread_from_details(details, home, away, f"{where}.odds.details") if isinstance(details, str) else None
    if spread is None:
        spread = from_details
    elif from_details is not None and abs(spread - from_details) > 1e-9:
        raise BadPayload(f"{where}.odds", f"spread {spread} disagrees with details {details!r}")
    total = number(o["overUnder"], f"{where}.odds.overUnder") if o.get("overUnder") not in (None, "") else None
    features: dict[str, float] = {}
    ml = o.get("moneyline")
    if isinstance(ml, dict):
        for side, key in (("home", "moneyline_a"), ("away", "moneyline_b")):
            close = ((ml.get(side) or {}).get("close") or {}).get("odds")
            if close not in (None, ""):
                features[key] = american_odds(close, f"{where}.odds.moneyline.{side}.close.odds")
    # pickcenter shape; soccer lines add drawOdds.moneyLine
    for side, key in (("homeTeamOdds", "moneyline_a"), ("awayTeamOdds", "moneyline_b"), ("drawOdds", "moneyline_draw")):
        line = (o.get(side) or {}).get("moneyLine")
        if key not in features and line not in (None, ""):
            features[key] = american_odds(line, f"{where}.odds.{side}.moneyLine")
    features.update(line_prior(features, provider_source(obj(o.get("provider") or {}, f"{where}.odds.provider")), three_way=lg.family == "soccer"))
    return spread, total, features


_DETAILS = re.compile(r"^\s*(\S+)\s+([+-]?\d+(?:\.\d+)?)\s*$")


def _spread_from_details(details: str, home: _Side, away: _Side, where: str) -> float | None:
    if details.strip().upper() in ("EVEN", "PK", "PICK"):
        return 0.0
    m = _DETAILS.match(details)
    if not m:
        return None  # e.g. moneyline-only details ("ML: -150"); not a spread
    abbr, line = m.group(1), abs(float(m.group(2)))
    if line >= 100:
        # American odds, not points: baseball details name the moneyline favourite (recorded:
        # MLB "DET -120" beside a 1.5 run line); no sport's point spread reaches 100.
        return None
    if abbr == home.abbr:
        return -line
    if abbr == away.abbr:
        return line
    raise BadPayload(where, f"favourite {abbr!r} is neither {home.abbr!r} nor {away.abbr!r}")


def _situation(lg: League, sit: dict[str, Any], home: _Side, away: _Side, where: str) -> dict[str, Any]:
    """Possession, down, distance, field position, timeouts and ESPN's win probability."""
    out: dict[str, Any] = {"features": {}}
    poss = sit.get("possession")
    if poss not in (None, ""):
        poss = str(poss)
        if poss == home.espn_id:
            out["possession"] = "a"
        elif poss == away.espn_id:
            out["possession"] = "b"
        else:
            raise BadPayload(f"{where}.possession", f"team {poss!r} is neither side ({home.espn_id}, {away.espn_id})")
    if lg.key in FOOTBALL:
        down = sit.get("down")
        if down is not None and integer(down, f"{where}.down") > 0:  # -1/0: kickoff or try, no down
            out["down"] = integer(down, f"{where}.down")
            out["distance"] = integer(req(sit, "distance", where), f"{where}.distance")
        yl = sit.get("yardLine")
        if yl is not None and "possession" in out:
            # ESPN's yardLine counts from the HOME goal line (recorded: ATL ball at "ATL 12" → 12 with
            # ATL home; WSH ball at "WSH 34" → 66 with WSH away). Ours counts from the possessor's own.
            y = integer(yl, f"{where}.yardLine")
            if not 0 <= y <= 100:
                raise BadPayload(f"{where}.yardLine", f"{y} outside 0..100")
            out["yard_line"] = y if out["possession"] == "a" else 100 - y
    for key, feat in (("homeTimeouts", "timeouts_a"), ("awayTimeouts", "timeouts_b")):
        if sit.get(key) is not None:
            out["features"][feat] = float(integer(sit[key], f"{where}.{key}"))
    prob = ((sit.get("lastPlay") or {}).get("probability") or {}).get("homeWinPercentage")
    if prob is not None:
        p = number(prob, f"{where}.lastPlay.probability.homeWinPercentage")
        if not 0.0 <= p <= 1.0:
            raise BadPayload(f"{where}.lastPlay.probability.homeWinPercentage", f"{p} outside [0, 1]")
        out["features"]["espn_home_wp"] = p
    return out


def competition_state(
    lg: League,
    event: dict[str, Any],
    comp: dict[str, Any],
    received_ms: int,
    *,
    where: str = "competition",
    per_match: bool = False,
    odds: list[Any] | None = None,
    situation: dict[str, Any] | None = None,
    period_hint: int | None = None,
    extra: dict[str, float] | None = None,
) -> EventState:
    """One game's state. `odds`/`situation` override the competition's own (summary payloads keep them apart).

    `extra`: features read elsewhere in the payload (a summary's baseball situation from its plays).
    """
    espn_id = text(req(comp if per_match else event, "id", where), f"{where}.id")
    home, away = _home_away(lg, comp, where)
    status_obj = obj(comp.get("status") or req(event, "status", where), f"{where}.status")
    status = map_status(status_obj, f"{where}.status")
    period = integer(status_obj["period"], f"{where}.status.period") if "period" in status_obj else (period_hint or 0)
    if status not in (EventStatus.SCHEDULED, EventStatus.POSTPONED, EventStatus.CANCELED) and (home.score is None or away.score is None):
        raise BadPayload(f"{where}.competitors", f"no score for a game that is {status.value}")
    date = comp.get("date") or event.get("date")
    start_ts = iso_ms(date, f"{where}.date") if date else None
    spread, total, odds_features = _odds(lg, home, away, comp.get("odds") if odds is None else odds, where)
    if lg.individual and not _sided(comp):
        # ESPN's odds name a home and an away side; without those roles on the competitors
        # (entity a is then ESPN's listing order) the moneylines cannot be put on a side.
        spread, odds_features = None, {}
    sit = situation if situation is not None else comp.get("situation")
    situ = _situation(lg, obj(sit, f"{where}.situation"), home, away, f"{where}.situation") if sit else {"features": {}}
    if lg.family == "baseball" and sit and status in (EventStatus.LIVE, EventStatus.BREAK):
        situ["features"].update(from_scoreboard(obj(sit, f"{where}.situation"), status_obj, f"{where}.status"))
    if extra:
        situ["features"].update(extra)
    if "possession" not in situ and status is EventStatus.LIVE and (home.has_ball, away.has_ball) in ((True, False), (False, True)):
        situ["possession"] = "a" if home.has_ball else "b"
    winner = None
    if status is EventStatus.FINAL:
        winner = _winner(home, away, f"{where}.competitors")
    name = event.get("name") if not per_match else None
    state = EventState(
        state_id="",
        event_id=event_id_of(lg, espn_id),
        ts=received_ms,
        source=SOURCE,
        market_type=MarketType.SPORT,
        league=lg.key,
        name=str(name) if name else f"{away.name} at {home.name}" if not lg.individual else f"{home.name} vs {away.name}",
        status=status,
        start_ts=start_ts,
        entity_a=home.name,
        entity_b=away.name,
        entity_a_id=home.espn_id,
        entity_b_id=away.espn_id,
        entity_a_abbr=home.abbr,
        entity_b_abbr=away.abbr,
        score_a=home.score or 0,
        score_b=away.score or 0,
        period=period,
        clock_seconds=_clock_seconds(lg, status, status_obj, period, f"{where}.status"),
        possession=situ.get("possession"),
        down=situ.get("down"),
        distance=situ.get("distance"),
        yard_line=situ.get("yard_line"),
        spread_a=spread,
        total=total,
        winner=winner,
        features={**odds_features, **situ["features"], **_side_features(home, away, comp, where)},
    )
    return dataclasses.replace(state, state_id=state_key(state))


def _winner(home: _Side, away: _Side, where: str) -> str:
    if home.winner is True and away.winner is not True:
        return "a"
    if away.winner is True and home.winner is not True:
        return "b"
    if home.score is None or away.score is None:
        raise BadPayload(where, "final without winner flag or scores")
    if home.score == away.score:
        return "draw"
    return "a" if home.score > away.score else "b"


def content_digest(state: EventState) -> str:
    """Digest of what a state says, ignoring its id and time: equal digests mean nothing changed."""
    body = {k: v for k, v in dataclasses.asdict(state).items() if k not in ("state_id", "ts")}
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def state_key(state: EventState) -> str:
    """Deterministic id: the same payload received at the same time always gives the same id."""
    return f"{state.event_id}:{state.ts}:{content_digest(state)}"
