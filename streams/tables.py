"""Table declarations with the contract's codecs on their changelog topics.

Faust derives a table's changelog serializers from its key/value types and
falls back to JSON for anything that is not a Faust model, which cannot carry
our records. Every Arbees table goes through here instead.
"""

from __future__ import annotations

from typing import Any, Literal

from faust.tables.table import Table

from schemas.topics import Family, partitions
from streams.app import app
from streams.codecs import AVRO, UTF8


def table(name: str, *, values: Literal["avro", "raw"] = "avro", family: Family = Family.EVENT, **kwargs: Any) -> Table:
    """A changelog-backed table keyed by UTF-8 strings holding records (avro) or bytes (raw).

    Its changelog has the partition count of the topic family of the source it is co-partitioned with.
    """
    return app.Table(  # type: ignore[no-any-return]
        name, default=None, partitions=partitions(family), key_serializer=UTF8,
        value_serializer=AVRO if values == "avro" else "raw", **kwargs,
    )
