"""Baseball's in-game situation (half, outs, runners) from ESPN's MLB payloads.

The baseball model needs the half-inning (`half`: 0 top, 1 bottom), `outs` and
the runners (`on_first`, `on_second`, `on_third`: 0/1). ESPN gives them in two
shapes:

- summary plays (recorded: tests/fixtures/espn/mlb_game_cdn_core_401815839.json):
  every play has `period: {"number", "type": "Top"|"Bottom"|"Mid"|"End"}` and
  `outs`; runners appear as `onFirst`/`onSecond`/`onThird` objects (absent = empty
  base). ESPN stamps every play of an at-bat with the at-bat's final outs and
  score, and substitution notes carry no runners at all, so only three kinds of
  play settle the situation: `end-batterpitcher` (the at-bat is over: its outs and
  runners are the state), `end-inning` ("Mid"/"End": the half is over) and
  `start-inning` (a new half, before its first pitch). Runner moves inside an
  at-bat (a stolen base) show once that at-bat ends.
- scoreboard `competitions[].situation` of a live game: `outs` and boolean
  `onFirst`/`onSecond`/`onThird`, with the half in `status.type.detail`
  ("Top 7th") or, in summary headers, `status.periodPrefix` ("Bottom").

A finished half is written as outs = 3 of that half: the model moves to the
next half (with the automatic runner in extra innings) itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.espn.errors import BadPayload
from connectors.espn.fields import integer, obj

TOP, BOTTOM = 0, 1
_HALF_BY_PREFIX = {"top": (TOP, False), "bottom": (BOTTOM, False), "mid": (TOP, True), "middle": (TOP, True), "end": (BOTTOM, True)}
BASES = (("onFirst", "on_first"), ("onSecond", "on_second"), ("onThird", "on_third"))


@dataclass(frozen=True)
class Situation:
    inning: int
    half: int  # TOP or BOTTOM
    outs: int  # 3 once the half is over
    bases: tuple[bool, bool, bool]

    def features(self) -> dict[str, float]:
        out = {"half": float(self.half), "outs": float(self.outs)}
        out.update({key: float(on) for (_, key), on in zip(BASES, self.bases)})
        return out


_EMPTY = (False, False, False)


def _half(prefix: Any, where: str) -> tuple[int, bool]:
    """(half, finished) from "Top"/"Bottom"/"Mid"/"End"."""
    key = str(prefix).strip().casefold()
    if key not in _HALF_BY_PREFIX:
        raise BadPayload(where, f"unknown half {prefix!r}")
    return _HALF_BY_PREFIX[key]


def _outs(value: Any, where: str) -> int:
    outs = integer(value, where)
    if not 0 <= outs <= 3:
        raise BadPayload(where, f"{outs} outs")
    return outs


def settled_by(play: dict[str, Any], where: str) -> Situation | None:
    """The situation a summary play settles, or None for plays that do not (pitches, notes)."""
    kind = (play.get("type") or {}).get("type")
    if kind not in ("end-batterpitcher", "end-inning", "start-inning"):
        return None
    period = obj(play.get("period") or {}, f"{where}.period")
    inning = integer(period.get("number"), f"{where}.period.number")
    half, finished = _half(period.get("type"), f"{where}.period.type")
    if kind == "end-batterpitcher":
        if finished:
            raise BadPayload(f"{where}.period.type", "an at-bat between halves")
        bases = tuple(isinstance(play.get(k), dict) for k, _ in BASES)
        return Situation(inning, half, _outs(play.get("outs"), f"{where}.outs"), bases)  # type: ignore[arg-type]
    if kind == "end-inning":
        return Situation(inning, half, 3, _EMPTY)
    # start-inning: the previous half is over (the model adds the automatic runner in extras)
    if half == TOP:
        return Situation(inning - 1, BOTTOM, 3, _EMPTY) if inning > 1 else Situation(1, TOP, 0, _EMPTY)
    return Situation(inning, TOP, 3, _EMPTY)


def from_scoreboard(situation: dict[str, Any], status: dict[str, Any], where: str) -> dict[str, float]:
    """Half, outs and runners of a live scoreboard game; {} when the payload does not say them all."""
    prefix = status.get("periodPrefix")
    if prefix is None:
        detail = str((status.get("type") or {}).get("detail") or "")
        prefix = detail.split(" ", 1)[0] if detail.split(" ", 1)[0].casefold() in _HALF_BY_PREFIX else None
    if prefix is None or situation.get("outs") is None:
        return {}
    half, finished = _half(prefix, f"{where}.periodPrefix")
    if finished:
        return {"half": float(half), "outs": 3.0, "on_first": 0.0, "on_second": 0.0, "on_third": 0.0}
    out = {"half": float(half), "outs": float(_outs(situation["outs"], f"{where}.situation.outs"))}
    for key, feat in BASES:
        on = situation.get(key, False)
        if not isinstance(on, (bool, dict)):
            raise BadPayload(f"{where}.situation.{key}", f"expected true/false, got {on!r}")
        out[feat] = float(bool(on))
    return out
