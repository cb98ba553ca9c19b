"""The broker jars are resolved by one process at a time (a fresh clone's parallel test workers raced on it)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

from ops.kafka import broker


def test_brokers_starting_at_once_resolve_the_jars_once_and_all_get_them(tmp_path: Path, monkeypatch: Any) -> None:
    """Three callers at once on a fresh folder: Maven (a stand-in that takes its time, as a download does) runs
    once, every caller returns, lib/ holds the jar with the pom's stamp. Before the lock, each caller removed the
    others' half-resolved folder (`lib.partial/.pom.sha256: No such file`, CI on a fresh clone with 3 workers)."""
    kafka_dir = tmp_path / "kafka"
    kafka_dir.mkdir()
    (kafka_dir / "pom.xml").write_text("<project/>")
    monkeypatch.setattr(broker, "KAFKA_DIR", kafka_dir)
    monkeypatch.setattr(broker, "POM", kafka_dir / "pom.xml")
    monkeypatch.setattr(broker, "LIB_DIR", kafka_dir / "lib")
    monkeypatch.setattr(broker, "STAMP", kafka_dir / "lib" / ".pom.sha256")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    runs = tmp_path / "maven-runs"
    mvn = bin_dir / "mvn"  # made up: Maven's copy-dependencies, as far as this code sees it
    mvn.write_text(f"""#!/bin/sh
echo run >> {runs}
sleep 0.5
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${{a#-DoutputDirectory=}}";; esac; done
mkdir -p "$out" && echo jar > "$out/kafka_2.13-4.0.1.jar"
""")
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    results: list[bool] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(broker.ensure_jars())
        except BaseException as exc:  # noqa: BLE001 - recorded, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and sorted(results) == [False, False, True]  # Maven ran for one caller only
    assert runs.read_text().splitlines() == ["run"]
    assert (kafka_dir / "lib" / "kafka_2.13-4.0.1.jar").exists() and broker.jars_current()
