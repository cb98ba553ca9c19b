"""The shard agent (group `shard`): streams/shard/stage.py over `shard.inputs`, built by the runner.

The runner batches (ARBEES_SHARD_BATCH / ARBEES_SHARD_WITHIN_MS: how many records one numpy
pass prices, and how long a batch may wait), routes the probabilities and signals by
streams/topology.py and writes each event's snapshot after the batch's outputs are
acknowledged; `arbees scale` grows the family, and the table follows its generation.
"""

from __future__ import annotations

from streams.agents import runner
from streams.config_file import load as load_config
from streams.shard.processor import ShardProcessor
from streams.shard.stage import ShardStage

processor = ShardProcessor(load_config().shard)  # arbees.toml or ARBEES_CONFIG
stage = ShardStage(processor)
agents = runner.build_group("shard", stage)
