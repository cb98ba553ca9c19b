"""Faust's Table with one race fixed: a changelog topic seen with zero partitions.

Right after a worker creates a table's changelog topic, the consumer's metadata can
list the topic with no partitions yet; Faust then compares that 0 with the source
topic's count and crashes the agent with PartitionsMismatch (seen on a fresh
broker in CI). Zero means "not known yet", so the check waits for real metadata.
"""

from __future__ import annotations

from faust.tables.table import Table


class ArbeesTable(Table):
    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        if not self.app.consumer.topic_partitions(self.changelog_topic_name):
            return  # metadata not there yet; verified on a later write
        super()._verify_source_topic_partitions(source_topic)
