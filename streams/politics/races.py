"""Race events from poll states: `step(state, record) -> (state, outputs)`, pure.

One state per race (the poll states' `league`). Each new or revised poll (source
"polls") is kept, and the race is re-forecast as of that poll's end time with
`streams.probability.polls.forecast` (only polls ended by then count) and emitted
as `race:<race>`: entity a/b the candidates (parties in the abbreviations), start_ts
the election, features `mean` and `sigma` of the final margin (points), `average`
and `polls`. The shard's politics model reads `mean`/`sigma`; no price enters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from schemas.enums import EventStatus, MarketType
from schemas.records import EventState
from streams.probability.polls import Poll, RaceConfig, forecast

POLL_SOURCE = "polls"
RACE_SOURCE = "races"


@dataclass(frozen=True)
class RaceState:
    race: str
    polls: dict[str, tuple[str, int, float, float, float, bool]] = field(default_factory=dict)  # poll event id -> Poll fields
    candidates: tuple[str, str, str, str] = ("", "", "", "")  # a, b, party a, party b
    election_ts: int = 0


def is_poll(state: EventState) -> bool:
    f = state.features
    return state.market_type is MarketType.POLITICS and state.source == POLL_SOURCE and {"pct_a", "pct_b", "election_ts"} <= f.keys()


class RacesProcessor:
    def __init__(self, config: RaceConfig | None = None) -> None:
        self.config = config or RaceConfig()

    def state_key(self, record: object) -> str | None:
        return record.league if isinstance(record, EventState) and is_poll(record) else None

    def initial(self, race: str) -> RaceState:
        return RaceState(race)

    def step(self, state: RaceState, record: EventState) -> tuple[RaceState, list[EventState]]:
        if not isinstance(record, EventState) or not is_poll(record) or record.league != state.race:
            raise ValueError(f"{getattr(record, 'event_id', record)!r} is not a poll of {state.race}")
        f = record.features
        poll = (record.name, record.ts, float(f["pct_a"]), float(f["pct_b"]), float(f.get("sample_size", 0.0)), f.get("lv", 0.0) == 1.0)
        if state.polls.get(record.event_id) == poll:
            return state, []
        state = replace(
            state, polls={**state.polls, record.event_id: poll}, election_ts=int(f["election_ts"]),
            candidates=(record.entity_a, record.entity_b, record.entity_a_abbr, record.entity_b_abbr),
        )
        polls = [Poll(*p) for _, p in sorted(state.polls.items())]
        fc = forecast(polls, record.ts, state.election_ts, self.config)
        a, b, pa, pb = state.candidates
        out = EventState(
            state_id=f"race:{state.race}@{record.ts}:{fc.polls}", event_id=f"race:{state.race}", ts=record.ts, source=RACE_SOURCE,
            market_type=MarketType.POLITICS, league=state.race, name=state.race,
            status=EventStatus.SCHEDULED if record.ts < state.election_ts else EventStatus.LIVE, start_ts=state.election_ts,
            entity_a=a, entity_b=b, entity_a_abbr=pa, entity_b_abbr=pb,
            features={"mean": fc.mean, "sigma": fc.sigma, "average": fc.average, "polls": float(fc.polls)},
        )
        return state, [out]
