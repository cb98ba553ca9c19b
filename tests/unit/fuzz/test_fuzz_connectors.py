"""Bounded, derandomized fuzzing of every connector entry point and the codec (bench/fuzz.py runs it longer).

Inputs are recorded payloads mutated (fields dropped or retyped, out-of-range numbers, NaN, huge and
unicode strings, truncated JSON, garbage); each must end as records the codec encodes and/or dead
letters with a reason. Hypothesis shrinks any escape to its minimal input.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from bench.fuzz import Escape, Target, check, check_decode, codec_seeds, mutated, mutated_bytes, targets

TARGETS = {t.name: t for t in targets()}
SLOW = {"espn.scoreboard", "espn.summary"}  # whole scoreboards and game packages: ~0.15 s an input


def _fuzz(target: Target, examples: int) -> None:
    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated(target.seeds))
    def run(text: str) -> None:
        check(target, text)

    run()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_payloads_become_records_or_dead_letters(name: str) -> None:
    _fuzz(TARGETS[name], 5 if name in SLOW else 15)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_unmutated_seeds_become_records(name: str) -> None:
    """The seeds themselves are good input: records come out (else the fuzzing above proves little)."""
    for seed in TARGETS[name].seeds:
        sink = check(TARGETS[name], seed)
        assert len(sink.encoded) > len(sink.dead)


def test_garbage_is_dead_lettered_not_an_escape() -> None:
    for name, target in TARGETS.items():
        sink = check(target, "{\"truncated\": [1, 2")
        assert sink.dead and all(d.error for d in sink.dead), name


def test_an_escape_is_reported() -> None:
    def boom(text: str):  # made-up target: a connector that raises on its input
        raise KeyError(text)

    with pytest.raises(Escape, match="KeyError"):
        check(Target("boom", ["{}"], boom), "{}")


SEEDS = codec_seeds()


@settings(max_examples=80, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(mutated_bytes(SEEDS))
def test_mutated_avro_values_decode_or_raise_decode_error(data: bytes) -> None:
    check_decode(data)


def test_codec_seeds_cover_every_record_kind_the_connectors_write() -> None:
    from schemas.codec import default_codec

    kinds = {type(default_codec().decode(b)).__name__ for b in SEEDS}
    assert {"RawFeed", "EventState", "Play", "MarketListing", "Quote", "DeadLetter"} <= kinds
