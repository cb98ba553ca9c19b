"""Where the stack finds a TimescaleDB source, and what it says when it cannot have the extension (no build here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.postgres import timescale
from ops.postgres.timescale import Plan


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """tmp/main (a checkout), tmp/wt/x (a git worktree of it) and tmp/shared/vendor with two releases."""
    main = tmp_path / "main"
    (main / ".git" / "worktrees" / "x").mkdir(parents=True)
    worktree = tmp_path / "wt" / "x"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'x'}\n")
    vendor = tmp_path / "shared" / "vendor"
    vendor.mkdir(parents=True)
    for version in ("2.9.0", "2.28.3"):  # "2.9.0" sorts after "2.28.3" as text
        (vendor / f"timescaledb-{version}.tar.gz").write_bytes(b"made up")
    return main, worktree


def test_the_newest_vendored_release_beside_the_main_checkout_is_found_from_a_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(timescale.SOURCE_ENV, raising=False)
    main, worktree = _layout(tmp_path)
    expected = tmp_path / "shared" / "vendor" / "timescaledb-2.28.3.tar.gz"
    assert timescale.find_source(main) == expected
    assert timescale.find_source(worktree) == expected


def test_the_environment_names_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main, _ = _layout(tmp_path)
    monkeypatch.setenv(timescale.SOURCE_ENV, str(tmp_path / "elsewhere" / "timescaledb-2.21.4.tar.gz"))
    assert timescale.find_source(main) == tmp_path / "elsewhere" / "timescaledb-2.21.4.tar.gz"


def test_without_a_source_the_plain_path_says_how_to_get_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timescale, "find_source", lambda: None)
    plan = timescale.plan(Path("/usr/lib/postgresql/15/bin"), "15", "15.18")
    assert plan.timescaledb is False and plan.server_options() == ""
    assert plan.reason.startswith("no TimescaleDB source: download the source tarball")
    assert "ARBEES_TIMESCALEDB_SOURCE" in plan.reason and "2.28.x is the last for 15" in plan.reason


def test_a_source_that_is_not_a_release_tarball_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(timescale.SOURCE_ENV, str(tmp_path / "timescaledb-main.zip"))
    plan = timescale.plan(Path("/usr/lib/postgresql/15/bin"), "15", "15.18")
    assert plan.timescaledb is False
    assert "is not a timescaledb-<version>.tar.gz file" in plan.reason


def test_server_options_load_the_staged_build_without_telemetry() -> None:
    staged = Plan(True, "built", "2.28.3", Path("/s/root"), Path("/s/root/usr/lib/postgresql/15/lib/timescaledb"))
    assert staged.server_options() == (" -c extension_destdir=/s/root"
                                       " -c shared_preload_libraries=/s/root/usr/lib/postgresql/15/lib/timescaledb"
                                       " -c dynamic_library_path='$libdir:/s/root/usr/lib/postgresql/15/lib'"
                                       " -c timescaledb.telemetry_level=off -c max_worker_processes=32")
    system = Plan(True, "system-wide", library=Path("timescaledb"))
    assert system.server_options() == (" -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
                                       " -c max_worker_processes=32")


def test_the_release_version_comes_from_the_file_name() -> None:
    assert timescale.tarball_version(Path("timescaledb-2.28.3.tar.gz")) == "2.28.3"
    assert timescale.tarball_version(Path("timescaledb-2.28.3-rc1.tar.gz")) is None


def test_a_build_says_what_it_does_while_it_takes_minutes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Made-up source tree (a `bootstrap` that writes a no-op Makefile), not TimescaleDB: only the
    progress lines of `build` are under test; the real build is exercised by the stack tests."""
    import io
    import tarfile

    src = tmp_path / "timescaledb-9.9.9.tar.gz"
    script = b"#!/bin/sh\nmkdir -p build && printf 'all:\\n\\ttrue\\ninstall:\\n\\ttrue\\n' > build/Makefile\n"
    with tarfile.open(src, "w:gz") as tar:
        info = tarfile.TarInfo("timescaledb-9.9.9/bootstrap")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    target = tmp_path / "cache" / "9.9.9-pg15"
    timescale.build(src, "9.9.9", Path("/usr/lib/postgresql/15/bin"), target)
    err = capsys.readouterr().err
    assert "TimescaleDB 9.9.9: building it once from timescaledb-9.9.9.tar.gz" in err
    assert [w for w in ("configured", "compiled", "staged") if f"TimescaleDB 9.9.9: {w} (" in err] == \
        ["configured", "compiled", "staged"]
