"""Workers and the sink freeze what start-up built and raise the collector's thresholds (streams/gc_tuning.py)."""

from __future__ import annotations

import gc
import inspect
import weakref

from streams.gc_tuning import THRESHOLDS, tune_for_service


class _Node:
    """A cycle's member: only the collector frees it."""

    other: object = None


def test_tuning_freezes_the_start_up_objects_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults: an earlier test in this process may have tuned already
    node = _Node()
    node.other = node  # alive at start-up, garbage later: a collection frees it unless it is frozen
    alive = weakref.ref(node)
    try:
        frozen = tune_for_service()
        # the count only falls (another thread's frozen garbage freed by reference counting), never grows by itself
        assert frozen > 1_000 and frozen - 100 <= gc.get_freeze_count() <= frozen
        assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > 700
        del node
        gc.collect()
        assert alive() is not None  # a full collection leaves the frozen objects alone
        gc.unfreeze()
        gc.collect()
        assert alive() is None  # and collects the same cycle once it is not frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_worker_and_the_sink_tune_after_start_up() -> None:
    from ops.sink import __main__ as sink_main
    from streams.app import ArbeesApp

    assert "tune_for_service()" in inspect.getsource(ArbeesApp.on_first_start)
    assert "tune_for_service()" in inspect.getsource(sink_main.main)
