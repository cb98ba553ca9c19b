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
    return app.Table(  # type: ignore[no-any-return]
        name, default=None, partitions=partitions, key_serializer=UTF8,
        value_serializer=AVRO if values == "avro" else "raw", **kwargs,
    )
