"""Write `schemas/avsc/<Record>.avsc` from the dataclasses and register new versions.

Run `python -m schemas.generate` after changing `schemas/records.py`; the
contract tests fail until the files and the local registry match the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.avro import schema_of
from schemas.codec import subject_of
from schemas.records import RECORD_TYPES
from schemas.registry import LocalRegistry

AVSC_DIR = Path(__file__).with_name("avsc")


def render(cls: type) -> str:
    return json.dumps(schema_of(cls), indent=2) + "\n"


def main() -> None:
    AVSC_DIR.mkdir(exist_ok=True)
    registry = LocalRegistry()
    for cls in RECORD_TYPES:
        path = AVSC_DIR / f"{cls.__name__}.avsc"
        text = render(cls)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(AVSC_DIR.parent.parent)}")
        schema_id, created = registry.add(subject_of(cls), schema_of(cls))
        if created:
            print(f"registered {subject_of(cls)} as id {schema_id}")
    registry.save()


if __name__ == "__main__":
    main()
