"""The recorded session as a recording file: `data/sessions/<name>/recording.avro`, what `arbees record` would write.

    python -m ops.sessions.recording [--session data/sessions/nba-2026-finals-g3]

The backtest inputs the connectors make of the session's payloads (`load_session`),
each at the partition its key takes and the offset it would get on a fresh broker,
stamped with its event time as the broker timestamp. `arbees backtest --input` on the
file replays exactly what `load_session` gives the engines; the same feed writes the
same file, byte for byte.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ops.backtest.records import INPUT_TOPICS
from ops.backtest.recording import RecordingInfo, messages_of, write_recording
from ops.sessions.replay import load_session
from schemas.topics import spec

REPO = Path(__file__).resolve().parents[2]
SESSION = REPO / "data" / "sessions" / "nba-2026-finals-g3"
FILE = "recording.avro"


def build(session: Path = SESSION, out: Path | None = None) -> Path:
    records = load_session(session)
    messages = messages_of(records)
    info = RecordingInfo(INPUT_TOPICS, {t: spec(t).partitions for t in INPUT_TOPICS}, None, None,
                         f"session {session.name} (feed.ndjson through the connectors' normalizers)")
    return write_recording(out or session / FILE, messages, [r.ts for r in records], info)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ops.sessions.recording", description=__doc__.splitlines()[0])
    ap.add_argument("--session", type=Path, default=SESSION)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    path = build(args.session, args.out)
    print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
