"""Workers and the sink freeze what start-up built and raise the collector's thresholds (streams/gc_tuning.py)."""

from __future__ import annotations

import gc
import inspect

from streams.gc_tuning import THRESHOLDS, tune_for_service


def test_tuning_freezes_the_start_up_objects_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults: an earlier test in this process may have tuned already
    survivor = [object() for _ in range(100)]
    try:
        frozen = tune_for_service()
        assert frozen == gc.get_freeze_count() > len(survivor)
        assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > 700
        gc.collect()
        assert gc.get_freeze_count() == frozen  # a full collection leaves the frozen objects alone
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_worker_and_the_sink_tune_after_start_up() -> None:
    from ops.sink import __main__ as sink_main
    from streams.app import ArbeesApp

    assert "tune_for_service()" in inspect.getsource(ArbeesApp.on_first_start)
    assert "tune_for_service()" in inspect.getsource(sink_main.main)
