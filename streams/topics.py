"""Faust topic declarations, taken from the one topic registry in `schemas.topics`."""

from __future__ import annotations

from functools import lru_cache

import faust

from streams.app import app
from streams.codecs import AVRO, UTF8
from streams.generations import resolve


@lru_cache(maxsize=None)
def topic(name: str) -> faust.TopicT:
    """The Faust topic for a registry name, with the registry's partition count (in this worker's generation)."""
    name, count = resolve(name)
    return app.topic(
        name,
        partitions=count,
        key_serializer=UTF8,
        value_serializer=AVRO,
        allow_empty=False,
    )
