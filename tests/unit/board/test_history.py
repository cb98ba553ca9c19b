"""Sunk rows read back as the records they were made from: the inverse of the sink's mapping, for every account table."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ops.board.feed import FROM_START
from ops.board.history import record_of
from ops.sink.mapping import MAPPERS
from schemas.topics import BY_NAME
from tests.unit.sink.samples import every_type


@pytest.mark.parametrize("topic", FROM_START)
def test_every_board_history_row_reads_back_as_its_record(topic: str) -> None:
    types = BY_NAME[topic].value_types
    samples = [r for r in every_type("hist") if type(r) in types]
    assert samples, topic
    for rec in samples:
        table, to_row = MAPPERS[type(rec)]
        values = to_row(rec)
        row = dict(zip(table.column_names, (*values, topic, 0, 7)))
        row = {k: v.astimezone(timezone.utc) if isinstance(v, datetime) else v for k, v in row.items()}
        assert record_of(type(rec), row) == rec
