"""The pregame prior: a devigged win probability from the line, carried into live states.

ESPN's scoreboard shows the odds while a game is scheduled and drops them once
it starts; every in-game model starts from the pregame market (hockey, soccer,
baseball, tennis and MMA read `p_pregame_a`; basketball and football the spread,
else `p_pregame_a`). So the normalizer turns the top provider's moneylines into
`p_pregame_a` (and `p_pregame_draw` for three-way soccer lines), naming the
source in a feature key `prior_from:line:espn-provider-<id>` = 1, and the pipeline
remembers the last line seen per event and fills it into later states that
lack one, marking them `pregame_line_carried` = 1.

Devig method: multiplicative (proportional) normalisation, p_i = q_i / sum(q),
q_i the implied probability of each American moneyline. It is the method of the
pregame data every model parameter was fitted on (`data/sports_pregame/*`,
column `p_home_devig`), so the live prior means what the fits assumed. It
leaves the favourite-longshot bias in: Shin's method would move the favourite
of a -200/+170 line from 0.643 to 0.648, of -400/+320 from 0.771 to 0.781.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Sequence

from schemas.records import EventState

#: The prior every model reads: P(entity a wins) before the start, vig removed.
PRIOR = "p_pregame_a"
#: Three-way markets (soccer): P(draw) before the start, vig removed.
PRIOR_DRAW = "p_pregame_draw"
#: Feature-key prefix naming where the prior came from (the value is always 1.0).
PRIOR_FROM = "prior_from:"
LINE_PRIOR_FROM = PRIOR_FROM + "line:"
CARRIED = "pregame_line_carried"
LINE_FEATURES = ("moneyline_a", "moneyline_b", "moneyline_draw", PRIOR, PRIOR_DRAW)


def implied_probability(american: float) -> float:
    """The probability an American moneyline pays out at break-even: -150 -> 0.6, +150 -> 0.4."""
    if -100.0 < american < 100.0:
        raise ValueError(f"American odds must be <= -100 or >= +100, got {american}")
    return 100.0 / (american + 100.0) if american > 0 else -american / (100.0 - american)


def devig(moneylines: Sequence[float]) -> tuple[float, ...]:
    """Vig-free probabilities of complementary outcomes by proportional normalisation."""
    q = [implied_probability(m) for m in moneylines]
    total = sum(q)
    return tuple(x / total for x in q)


def provider_source(provider: dict[str, object]) -> str:
    """A stable name of ESPN's odds provider: its id, which scoreboards and summaries both carry.

    Scoreboards give only the id ("100"); summaries add the name (recorded: id "100"
    is "DraftKings"), so the id keeps the source key the same on both.
    """
    pid = provider.get("id")
    if pid not in (None, ""):
        return f"espn-provider-{pid}"
    name = re.sub(r"[^a-z0-9]+", "", str(provider.get("name") or "").casefold())
    return f"espn-provider-{name or 'unknown'}"


def line_prior(lines: dict[str, float], source: str, three_way: bool) -> dict[str, float]:
    """`p_pregame_a` (and `p_pregame_draw`) with its source key, from moneylines a/b (and draw).

    A three-way market without a draw line gets no prior: a two-way devig would
    give the draw's share to the teams.
    """
    if "moneyline_a" not in lines or "moneyline_b" not in lines:
        return {}
    if three_way:
        if "moneyline_draw" not in lines:
            return {}
        p_a, _, p_draw = devig((lines["moneyline_a"], lines["moneyline_b"], lines["moneyline_draw"]))
        return {PRIOR: p_a, PRIOR_DRAW: p_draw, LINE_PRIOR_FROM + source: 1.0}
    p_a, _ = devig((lines["moneyline_a"], lines["moneyline_b"]))
    return {PRIOR: p_a, LINE_PRIOR_FROM + source: 1.0}


def prior_source(state: EventState) -> str | None:
    """Where the state's `p_pregame_a` came from ("line:espn-provider-100", "venue:kalshi:T"), None without one."""
    if PRIOR not in state.features:
        return None
    names = sorted(k[len(PRIOR_FROM):] for k in state.features if k.startswith(PRIOR_FROM))
    return names[0] if names else "unnamed"


@dataclass(frozen=True)
class PregameLine:
    spread_a: float | None
    total: float | None
    features: tuple[tuple[str, float], ...]

    @property
    def empty(self) -> bool:
        return self.spread_a is None and self.total is None and not self.features


def _is_line_feature(key: str) -> bool:
    return key in LINE_FEATURES or key.startswith(PRIOR_FROM)


def line_of(state: EventState) -> PregameLine:
    return PregameLine(
        state.spread_a,
        state.total,
        tuple(sorted((k, v) for k, v in state.features.items() if _is_line_feature(k))),
    )


def carry(state: EventState, line: PregameLine | None) -> EventState:
    """The state with the remembered line filled where it has none (never overriding its own).

    The prior and its source travel together: a state that already names a
    prior source keeps its own and takes none of the remembered one's.
    """
    if line is None or line.empty:
        return state
    features = dict(state.features)
    own_prior = PRIOR in features
    missing = [
        (k, v) for k, v in line.features
        if k not in features and not (own_prior and (k in (PRIOR, PRIOR_DRAW) or k.startswith(PRIOR_FROM)))
    ]
    spread = state.spread_a if state.spread_a is not None else line.spread_a
    total = state.total if state.total is not None else line.total
    if not missing and spread == state.spread_a and total == state.total:
        return state
    features.update(missing)
    features[CARRIED] = 1.0
    return dataclasses.replace(state, spread_a=spread, total=total, features=features)
