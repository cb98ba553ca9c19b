"""Table declarations with the contract's codecs on their changelog topics.

Faust derives a table's changelog serializers from its key/value types and
falls back to JSON for anything that is not a Faust model, which cannot carry
our records. Every Arbees table goes through here instead.
"""

from __future__ import annotations

from typing import Any, Literal

from faust.tables.table import Table

from streams.app import app
from streams.codecs import AVRO, UTF8


def table(name: str, *, values: Literal["avro", "raw"] = "avro", partitions: int = 12, **kwargs: Any) -> Table:
    """A changelog-backed table keyed by UTF-8 strings holding records (avro) or bytes (raw)."""
    t: Table = app.Table(name, default=None, partitions=partitions, **kwargs)  # type: ignore[assignment]
    t.key_serializer = UTF8
    t.value_serializer = AVRO if values == "avro" else "raw"
    # the changelog topic was built with the JSON defaults at registration: rebuild it, so that
    # recovery reads the changelog with the same codecs the writes used
    t.changelog_topic = t._new_changelog_topic()
    return t
