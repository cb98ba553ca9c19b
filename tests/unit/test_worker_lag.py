"""A worker's heartbeat lag counts from where it resumed, not from 0, on a partition it has read nothing from yet.

The consumer is a stand-in (made up): two partitions at high watermark 3, the group committed 3 on both
before the worker restarted; the worker has since read offset 3 of one partition only (its watermark is 4).
"""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace

import pytest

from streams.agents import heartbeat as hb

TP = namedtuple("TP", "topic partition")


class Consumer:
    def __init__(self) -> None:
        self.high = {TP("markets.quotes", 0): 3, TP("markets.quotes", 1): 4, TP("router-changelog", 0): 9}
        self._committed_offset = {TP("markets.quotes", 0): 3, TP("markets.quotes", 1): 3}

    def assignment(self) -> set:
        return set(self.high)

    def highwater(self, tp: TP) -> int:
        return self.high[tp]


def test_a_restarted_worker_reports_no_lag_on_partitions_it_had_already_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hb, "app", SimpleNamespace(consumer=Consumer(), conf=SimpleNamespace(id="router")))
    sensor = hb.MeterSensor()
    sensor.read[TP("markets.quotes", 1)] = 3
    assert sensor.lag() == {"markets.quotes/0": 0, "markets.quotes/1": 0}
    sensor.read[TP("markets.quotes", 1)] = 2  # one record of it still to handle
    assert sensor.lag()["markets.quotes/1"] == 1
