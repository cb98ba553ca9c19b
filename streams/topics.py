"""Faust topic declarations, taken from the one topic registry in `schemas.topics`."""

from __future__ import annotations

from functools import lru_cache

import faust

from schemas.topics import spec
from streams.app import app
from streams.codecs import AVRO, UTF8


@lru_cache(maxsize=None)
def topic(name: str) -> faust.TopicT:
    """The Faust topic for a registry name, with the registry's partition count."""
    s = spec(name)
    return app.topic(
        s.name,
        partitions=s.partitions,
        key_serializer=UTF8,
        value_serializer=AVRO,
        allow_empty=False,
    )
