"""Pure functions from an ESPN game summary to Play records and the game's EventState.

Accepts both the site API summary (`/summary?event=`: header, plays,
winprobability, pickcenter at the top level) and the CDN game package that
wraps the same object in `gamepackageJSON`. Football summaries keep plays
inside drives; they are flattened in drive order.

Idempotent: a play's id is ESPN's play id, so the same play read twice (or
from two polls) is the same record; its time is ESPN's `wallclock` when given.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from connectors.espn.baseball import Situation, settled_by
from connectors.espn.errors import BadPayload
from connectors.espn.fields import arr, display_clock_seconds, integer, iso_ms, number, obj, reading, req, text
from connectors.espn.leagues import League
from connectors.espn.normalize import Rejected, competition_state, event_id_of, state_key
from schemas.enums import EventStatus
from schemas.records import EventState, Play


@dataclass(frozen=True)
class SummaryResult:
    state: EventState
    plays: tuple[Play, ...]
    rejected: tuple[Rejected, ...]
    #: Per play (baseball): the situation it settles, else None.
    settled: tuple[Situation | None, ...] = ()


def unwrap(payload: dict[str, Any]) -> dict[str, Any]:
    """The summary object, whether it came from the site API or the CDN game package."""
    inner = payload.get("gamepackageJSON")
    return obj(inner, "gamepackageJSON") if inner is not None else payload


def raw_plays(summary: dict[str, Any]) -> list[Any]:
    """Plays in feed order: top-level `plays`, or football's `drives.previous[].plays` then the current drive."""
    if "plays" in summary:
        return arr(summary["plays"], "plays")
    drives = summary.get("drives")
    if not isinstance(drives, dict):
        return []
    out: list[Any] = []
    for d, drive in enumerate(arr(drives.get("previous") or [], "drives.previous")):
        out.extend(arr(obj(drive, f"drives.previous[{d}]").get("plays") or [], f"drives.previous[{d}].plays"))
    current = drives.get("current")
    if isinstance(current, dict):
        seen = {p.get("id") for p in out if isinstance(p, dict)}
        out.extend(p for p in arr(current.get("plays") or [], "drives.current.plays") if not (isinstance(p, dict) and p.get("id") in seen))
    return out


def win_probabilities(summary: dict[str, Any]) -> dict[str, float]:
    """ESPN's published home win probability per play id."""
    out: dict[str, float] = {}
    for i, wp in enumerate(arr(summary.get("winprobability") or [], "winprobability")):
        where = f"winprobability[{i}]"
        wp = obj(wp, where)
        p = number(req(wp, "homeWinPercentage", where), f"{where}.homeWinPercentage")
        if not 0.0 <= p <= 1.0:
            raise BadPayload(f"{where}.homeWinPercentage", f"{p} outside [0, 1]")
        out[text(req(wp, "playId", where), f"{where}.playId")] = p
    return out


def play_clock_seconds(clock: Any, where: str) -> float | None:
    if clock is None:
        return None
    clock = obj(clock, where)
    if isinstance(clock.get("value"), (int, float)) and not isinstance(clock.get("value"), bool):
        return float(clock["value"])
    if "displayValue" in clock:
        return display_clock_seconds(clock["displayValue"], f"{where}.displayValue")
    return None


def play_record(lg: League, event_id: str, play: dict[str, Any], wp: dict[str, float], received_ms: int, where: str) -> Play:
    play_id = text(req(play, "id", where), f"{where}.id")
    period = obj(play.get("period") or {}, f"{where}.period")
    team = play.get("team") or ((play.get("start") or {}).get("team"))  # football: the team on offence
    team_id = text(req(team, "id", f"{where}.team"), f"{where}.team.id") if isinstance(team, dict) and team.get("id") else None
    wall = play.get("wallclock")
    return Play(
        play_id=f"{event_id}:{play_id}",
        event_id=event_id,
        ts=iso_ms(wall, f"{where}.wallclock") if wall else received_ms,
        league=lg.key,
        sequence=integer(req(play, "sequenceNumber", where), f"{where}.sequenceNumber"),
        period=integer(period["number"], f"{where}.period.number") if "number" in period else 0,
        clock_seconds=play_clock_seconds(play.get("clock"), f"{where}.clock"),
        team_id=team_id,
        play_type=str((play.get("type") or {}).get("text") or ""),
        text=str(play.get("text") or ""),
        score_a=integer(req(play, "homeScore", where), f"{where}.homeScore"),
        score_b=integer(req(play, "awayScore", where), f"{where}.awayScore"),
        scoring_play=bool(play.get("scoringPlay", False)),
        score_value=integer(play.get("scoreValue", 0), f"{where}.scoreValue"),
        source_home_win_prob=wp.get(play_id),
    )


def summary(lg: League, payload: dict[str, Any], received_ms: int) -> SummaryResult:
    """The game's state (header + pick center odds) and every play; bad plays are returned as `rejected`.

    A summary whose header cannot be read raises `BadPayload`: without it no
    play can be tied to a game.
    """
    s = unwrap(payload)
    header = obj(req(s, "header", "summary"), "header")
    comps = arr(req(header, "competitions", "header"), "header.competitions")
    if not comps:
        raise BadPayload("header.competitions", "empty")
    comp = obj(comps[0], "header.competitions[0]")
    event = {"id": req(header, "id", "header"), "name": None, "status": comp.get("status"), "date": comp.get("date")}
    event_id = event_id_of(lg, text(event["id"], "header.id"))
    wp = win_probabilities(s)
    plays: list[Play] = []
    settled: list[Situation | None] = []
    rejected: list[Rejected] = []
    for i, p in enumerate(raw_plays(s)):
        where = f"plays[{i}]"
        try:
            with reading(where):
                play = play_record(lg, event_id, obj(p, where), wp, received_ms, where)
                sit = settled_by(p, where) if lg.family == "baseball" else None
        except BadPayload as exc:
            ref = str(p.get("id", "")) if isinstance(p, dict) else ""
            rejected.append(Rejected(where=where, ref=ref, value=json.dumps(p, sort_keys=True).encode(), error=exc))
            continue
        plays.append(play)
        settled.append(sit)
    last = next((x for x in reversed(settled) if x is not None), None)
    odds = s.get("pickcenter")
    state = competition_state(
        lg,
        event,
        comp,
        received_ms,
        where="header.competitions[0]",
        odds=arr(odds, "pickcenter") if odds is not None else [],
        situation=obj(s["situation"], "situation") if s.get("situation") else {},
        period_hint=max((p.period for p in plays), default=0),
        extra=last.features() if last is not None and not s.get("situation") else None,
    )
    return SummaryResult(state=state, plays=tuple(plays), rejected=tuple(rejected), settled=tuple(settled))


@dataclass(frozen=True)
class PlayState:
    """The game as it stood right after one play."""

    play: Play
    state: EventState


#: Features that describe one moment of the summary's header, not the game after an earlier play.
_MOMENT_FEATURES = frozenset({"espn_home_wp", "half", "outs", "on_first", "on_second", "on_third"})


def play_states(lg: League, payload: dict[str, Any], received_ms: int) -> tuple[PlayState, ...]:
    """The state after every play of a summary, as a live poll right after that play would have read it.

    Everything that holds for the whole game (teams, pregame line and prior,
    records) comes from the summary's own state; the score, period and clock from
    the play; baseball's half, outs and runners from the last play that settled
    them (`connectors.espn.baseball`); basketball's possession from the play
    types (`basketball_possession`), since ESPN's NBA plays do not name it. Each
    state's time is its play's wallclock, so replaying a recorded game yields
    the states in game order. Bad plays are left out (the summary rejects them).
    """
    sm = summary(lg, payload, received_ms)
    base = sm.state
    keep = {k: v for k, v in base.features.items() if k not in _MOMENT_FEATURES}
    out: list[PlayState] = []
    sit: Situation | None = None
    possession: str | None = None
    for play, settled in zip(sm.plays, sm.settled or (None,) * len(sm.plays)):
        sit = settled or sit
        features = dict(keep)
        if sit is not None:
            features.update(sit.features())
        if lg.family == "basketball":
            possession = basketball_possession(play, base.entity_a_id, possession)
        state = dataclasses.replace(
            base,
            ts=play.ts,
            status=EventStatus.LIVE,
            winner=None,
            score_a=play.score_a,
            score_b=play.score_b,
            period=play.period,
            clock_seconds=play.clock_seconds if lg.family != "baseball" else None,
            possession=possession if lg.family == "basketball" else None,
            features=features,
        )
        out.append(PlayState(play, dataclasses.replace(state, state_id=state_key(state))))
    return tuple(out)


_FREE_THROW = re.compile(r"(\d) of (\d)")


def basketball_possession(play: Play, home_id: str, previous: str | None) -> str | None:
    """Who holds the ball after an ESPN basketball play ("a" home, "b" away, None unknown).

    The feed does not say; the play type and the acting team do: a rebound
    gives the ball to the rebounder, a turnover or offensive foul to the other
    side, a made last free throw or a made shot to the other side, a miss leaves
    it loose, a defensive foul hands it to the side fouled.
    """
    team = play.team_id
    kind = play.play_type
    if not team:
        return previous
    own, other = ("a", "b") if team == home_id else ("b", "a")
    if "Rebound" in kind:
        return own
    if "Turnover" in kind or kind == "Offensive Foul":
        return other
    if kind.startswith("Free Throw"):
        match = _FREE_THROW.search(kind)
        if match and match.group(1) == match.group(2):
            return other if "makes" in play.text else None
        return own
    if play.scoring_play:
        return other
    if "misses" in play.text:
        return None
    if "Foul" in kind:
        return other
    return previous
