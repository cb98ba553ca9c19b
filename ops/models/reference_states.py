"""Reference states with a published win probability, read from the real data in data/.

These are yardsticks the derivation scripts fit to: the live NFL states of the
recorded ESPN scoreboards with `lastPlay.probability`, and nflfastR's reference
kickoff states. (The recorded NBA and MLB games are read by the ESPN connector
itself: `connectors.espn.plays.play_states`, used by `bench.models`.) Each becomes an EventState exactly as
the live system would see it, plus the published home win probability.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ops.models.margins import DATA_DIR
from schemas.enums import EventStatus
from schemas.records import EventState

INGAME_DIR = DATA_DIR / "sports_ingame"
ESPN_DIR = DATA_DIR / "espn"
NFLFASTR = INGAME_DIR / "nflfastR_calculate_win_probability_snapshot.csv"
NFL_SCOREBOARDS = tuple(sorted(ESPN_DIR.glob("nfl_scoreboard_*.json")))


@dataclass(frozen=True)
class ReferenceState:
    state: EventState
    home_prob: float  # the published home win probability for this state
    label: str
    elapsed_seconds: float  # game seconds played, for charts


def _overall_record(competitor: dict[str, object]) -> tuple[int, int]:
    for rec in competitor.get("records", []):  # type: ignore[union-attr]
        if rec.get("type") == "total":
            wins, losses = rec["summary"].split("-")[:2]
            return int(wins), int(losses)
    raise ValueError("competitor without an overall record")


def nfl_espn_live(paths: tuple[Path, ...] = NFL_SCOREBOARDS) -> list[ReferenceState]:
    """In-progress NFL games of the recorded scoreboards that carry ESPN's lastPlay.probability.

    ESPN's `yardLine` counts from the home goal line; EventState counts from the
    possessing team's own goal line. Live games carry no odds, so the prior comes
    from the season records ESPN shows (wins/losses before this game).
    """
    out: list[ReferenceState] = []
    for path in paths:
        for event in json.loads(path.read_text())["events"]:
            comp = event["competitions"][0]
            situation = comp.get("situation") or {}
            prob = (situation.get("lastPlay") or {}).get("probability")
            if not prob or comp["status"]["type"]["state"] != "in":
                continue
            side = {c["homeAway"]: c for c in comp["competitors"]}
            holder = situation.get("possession")
            possession = None if not holder else ("a" if holder == side["home"]["team"]["id"] else "b")
            yard = situation.get("yardLine")
            yard_line = None if possession is None else (yard if possession == "a" else 100 - yard)
            wins_a, losses_a = _overall_record(side["home"])
            wins_b, losses_b = _overall_record(side["away"])
            period = int(comp["status"]["period"])
            clock = float(comp["status"]["clock"])
            state = EventState(
                state_id=f"nfl:{event['id']}:{situation['lastPlay']['id']}",
                event_id=str(event["id"]),
                ts=0,
                source="espn",
                league="nfl",
                status=EventStatus.LIVE,
                score_a=int(side["home"]["score"]),
                score_b=int(side["away"]["score"]),
                period=period,
                clock_seconds=clock,
                possession=possession,
                down=situation.get("down"),
                distance=situation.get("distance"),
                yard_line=yard_line,
                features={
                    "timeouts_a": float(situation["homeTimeouts"]),
                    "timeouts_b": float(situation["awayTimeouts"]),
                    "record_wins_a": float(wins_a),
                    "record_losses_a": float(losses_a),
                    "record_wins_b": float(wins_b),
                    "record_losses_b": float(losses_b),
                    "neutral_site": float(bool(comp.get("neutralSite"))),
                },
            )
            elapsed = (period - 1) * 900.0 + (900.0 - clock)
            out.append(ReferenceState(state, float(prob["homeWinPercentage"]), event["shortName"], elapsed))
    return out


def nflfastr_kickoffs(path: Path = NFLFASTR) -> list[ReferenceState]:
    """nflfastR's reference kickoff states (home 1st & 10 at own 25, 3 timeouts each) and their vegas_wp."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out: list[ReferenceState] = []
    for r in rows:
        state = EventState(
            state_id=f"nflfastr:{r['']}",
            event_id="nflfastr",
            ts=0,
            source="nflfastR",
            league="nfl",
            status=EventStatus.LIVE,
            period=1,
            clock_seconds=float(r["half_seconds_remaining"]) - 900.0,
            possession="a",
            down=int(r["down"]),
            distance=int(r["ydstogo"]),
            yard_line=100 - int(r["yardline_100"]),
            spread_a=-float(r["spread_line"]),  # nflfastR spread_line > 0 means the home team is favoured
            features={
                "timeouts_a": float(r["posteam_timeouts_remaining"]),
                "timeouts_b": float(r["defteam_timeouts_remaining"]),
            },
        )
        out.append(ReferenceState(state, float(r["vegas_wp"]), f"spread {r['spread_line']}", 0.0))
    return out
