"""Faust's Table with our codecs on its changelog and one race fixed.

Faust derives a table's serializers from its key/value types (JSON for anything
that is not a Faust model) and builds the changelog topic with them; tables
here take `key_serializer` / `value_serializer` instead, set before the
changelog topic exists, so writes and recovery use the same codecs.

The race: right after a worker creates a table's changelog topic, the consumer's metadata can
list the topic with no partitions yet; Faust then compares that 0 with the source
topic's count and crashes the agent with PartitionsMismatch (seen on a fresh
broker in CI). Zero means "not known yet", so the check waits for real metadata.
"""

from __future__ import annotations

from typing import Any

from faust.tables.table import Table
from faust.types import AppT
from faust.types.codecs import CodecArg


class ArbeesTable(Table):
    def __init__(self, app: AppT, *, key_serializer: CodecArg = None, value_serializer: CodecArg = None,
                 **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        if key_serializer is not None:
            self.key_serializer = key_serializer
        if value_serializer is not None:
            self.value_serializer = value_serializer
        self._changelog_topic = None  # built on first use, with the codecs above

    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        if not self.app.consumer.topic_partitions(self.changelog_topic_name):
            return  # metadata not there yet; verified on a later write
        super()._verify_source_topic_partitions(source_topic)
