"""Sizing keeps its exposure sums in step with holdings and working orders (issue 13).

The oracle is the rescan sizing used to run for every leg of every signal: every
holding's cost and every working order's reserved cost, summed per event, market,
venue and in total. After every sizing step of a real run the kept sums must
equal it, and must have been kept (moved by the change), not taken afresh. The
same holds for the index of recent ids that replays are checked against.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import replace

import pytest

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.sessions.build import SESSION
from ops.sessions.replay import load_session
from schemas.enums import Action, Venue
from streams.trading import sizing_processor
from streams.trading.exposure import Exposures, Working
from streams.trading.sizing_processor import RECENT, SizingProcessor, SizingState
from streams.trading.units import Contracts, Micros

EVENT = "espn:nba:401859965"  # the recorded session's game (data/sessions/nba-2026-finals-g3)


def rescan(state: SizingState) -> dict[str, Counter[str] | int]:
    """The former `_exposure`/`_cash` arithmetic, over every entry."""
    event: Counter[str] = Counter()
    market: Counter[str] = Counter()
    venue: Counter[str] = Counter()
    open_cost = sum(h.cost.value for h in state.holdings.values())
    reserved = sum(w.reserved.value for w in state.working.values())
    for item, cost in [(h, h.cost.value) for h in state.holdings.values()] + [
            (w, w.reserved.value) for w in state.working.values()]:
        event[item.event_id] += cost
        market[f"{item.venue}:{item.market}"] += cost
        venue[item.venue] += cost
    return {"event": +event, "market": +market, "venue": +venue, "open_cost": open_cost, "reserved": reserved}


def kept(exp: Exposures) -> dict[str, Counter[str] | int]:
    return {"event": +Counter(exp.event), "market": +Counter(exp.market), "venue": +Counter(exp.venue),
            "open_cost": exp.open_cost, "reserved": exp.reserved}


@pytest.fixture
def checked_steps(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Wraps `SizingProcessor.step`: after each step the kept sums equal the rescan and were kept, not rescanned."""
    seen: Counter[str] = Counter()
    real_step = SizingProcessor.step

    def step(self: SizingProcessor, state: SizingState, record: object) -> tuple[SizingState, list[object]]:
        after, outputs = real_step(self, state, record)  # type: ignore[arg-type]
        assert kept(self.exposures(after)) == rescan(after), type(record).__name__
        ids = self._seen.get(after.seen)
        assert ids is None or ids == set(after.seen)
        if after.seen is not state.seen:  # remembered an id: the index moved along, not rebuilt
            assert ids is not None
            seen["remembered"] += 1
        seen["steps"] += 1
        if after.holdings is not state.holdings or after.working is not state.working:
            seen["changes"] += 1
        return after, outputs

    def scan(*args: object, **kwargs: object) -> Exposures:
        seen["scans"] += 1
        return real_scan(*args, **kwargs)  # type: ignore[arg-type]

    real_scan = Exposures.scan
    monkeypatch.setattr(SizingProcessor, "step", step)
    monkeypatch.setattr(Exposures, "scan", staticmethod(scan))
    return seen


def test_kept_sums_equal_the_rescan_after_every_step_of_the_recorded_session(checked_steps: Counter[str]) -> None:
    result = InProcessEngine(BacktestConfig(account="exposure", events=(EVENT,))).run(load_session(SESSION))
    assert result.orders and result.fills  # the session opens and closes positions: the sums move
    assert checked_steps["changes"] >= len(result.orders)
    # one scan per account when its state is first seen; every change after that moves the sums
    assert checked_steps["scans"] == 1, checked_steps
    assert checked_steps["remembered"] >= len(result.signals)


def test_kept_sums_equal_the_rescan_on_the_bench_stream(checked_steps: Counter[str]) -> None:
    """Made-up input (bench/backtest.py's synthetic NFL events over recorded ladders): many refusals, some fills."""
    from bench.backtest import synthetic_input

    records = synthetic_input(events=10, markets=6, quotes=3_000, run="exposure")
    result = InProcessEngine(BacktestConfig(account="exposure-bench")).run(records)
    assert result.orders and checked_steps["changes"] >= len(result.orders)
    assert checked_steps["scans"] == 1, checked_steps


def test_a_state_made_elsewhere_is_summed_afresh_and_a_changed_one_moves_its_sums() -> None:
    sizing = SizingProcessor()
    state = sizing.initial("acct")
    assert sizing.exposures(state).total == 0
    working = Working("pos", "ev", Venue.KALSHI.value, "M", Action.BUY, Contracts.of(10.0), Micros(400_000))
    made = replace(state, working={"o-1": working})  # not through step: the kept sums of `state` do not apply
    assert sizing.exposures(made).reserved == 4_000_000
    assert sizing.exposures(made).market == {"KALSHI:M": 4_000_000}
    restored = pickle.loads(pickle.dumps(made))  # a changelog value: equal, other objects
    assert restored == made and sizing.exposures(restored) == sizing.exposures(made)
    assert SizingProcessor().exposures(restored).reserved == 4_000_000  # a new worker's processor


def test_the_recent_ids_index_follows_the_window_and_an_old_state_keeps_its_own() -> None:
    sizing = SizingProcessor()
    state = sizing.initial("acct")
    states = [state]
    for i in range(RECENT + 3):
        state = sizing._remember(state, f"sig-{i}")
        states.append(state)
    assert len(state.seen) == RECENT and not sizing._seen_before(state, "sig-2")
    assert sizing._seen_before(state, "sig-3") and sizing._seen_before(state, f"sig-{RECENT + 2}")
    earlier = states[5]  # its index was moved on to the next state: it is rebuilt from its own tuple
    assert sizing._seen_before(earlier, "sig-4") and not sizing._seen_before(earlier, "sig-5")
