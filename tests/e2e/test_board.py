"""The web board in headless Chromium while `arbees run --replay` plays the recorded NBA Finals G3 session.

Real broker, real agent workers under the supervisor, the board as one of its parts. The
page is read over the DevTools protocol (tests/e2e/chromium.py): mid-replay it must show
the game with model and both venues' prices and a chart; a worker SIGKILLed mid-run must
not stop it; once the log is quiet its bankroll, P&L and open positions must equal what
`arbees pnl` and `arbees positions` print at that moment. Screenshots are kept (path printed).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from connectors.publisher import Publisher
from ops.run.parts import free_port
from ops.topics import ensure_topics
from schemas.records import LedgerEntry
from tests.e2e.chromium import Browser, chromium_binary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
REPO = Path(__file__).resolve().parents[2]
EVENT = "espn:nba:401859965"
ARTIFACTS = Path(os.environ.get("ARBEES_TEST_ARTIFACTS", "") or REPO / "tmp" / "artifacts")
PARTS = "discovery,router,shard,trading,replay,board"
START_MS = 1_780_900_000_000  # before the session's first payload: the deposit is the account's first entry


def board_state(browser: Browser) -> dict:
    """What the page shows, read off its DOM."""
    return browser.evaluate("""(() => {
      const cell = (acc, f) => document.querySelector(`[data-account="${acc}"][data-field="${f}"]`)?.textContent ?? null;
      const rows = [...document.querySelectorAll('#positions tr')].slice(1).map(r => [...r.cells].map(c => c.textContent));
      const accs = [...document.querySelectorAll('[data-field="bankroll"]')].map(e => e.dataset.account);
      return {version: document.body.dataset.version, accounts: Object.fromEntries(accs.map(a => [a, {
          bankroll: cell(a, 'bankroll'), realized: cell(a, 'realized'), fees: cell(a, 'fees'), net: cell(a, 'net'),
          unrealized: cell(a, 'unrealized'), open: cell(a, 'open_positions')}])),
        positions: rows.filter(r => r.length > 1), games: document.querySelectorAll('#games .game').length,
        charts: document.querySelectorAll('#games canvas').length, title: document.querySelector('#games .title')?.textContent,
        health: [...document.querySelectorAll('#health tr')].slice(1).map(r => [...r.cells].map(c => c.textContent)),
        sections: [...document.querySelectorAll('section h2')].map(h => h.textContent)};
    })()""")


def cli_row(text: str, account: str) -> list[str]:
    """The cells of `account`'s row in a rich table printed by the CLI."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == account:
            return cells
    raise AssertionError(f"no row for {account} in:\n{text}")


def cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=REPO, env={**env, "COLUMNS": "400"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def drawn(shot: Path, box: dict[str, float]) -> bool:
    """The screenshot's pixels inside `box` hold a drawing: some, not most, differ from its background colour."""
    pixels = (image.imread(str(shot))[:, :, :3] * 255).astype(np.uint8)
    region = pixels[int(box["y"]) + 2:int(box["y"] + box["h"]) - 2, int(box["x"]) + 2:int(box["x"] + box["w"]) - 2]
    flat = region.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    ink = 1.0 - counts.max() / len(flat)
    return region.size > 0 and len(colours) >= 3 and 0.01 < ink < 0.9


def position_rows(rows: list[list[str]], account: str) -> list[tuple[str, ...]]:
    """(market, side, status, qty, avg, mark, unrealized, fees) of `account`'s rows, board and CLI alike.

    The board shows quantities to two decimals, the CLI as %g: compared as numbers."""
    return sorted((r[1], r[2], r[3], f"{float(r[4]):g}", *r[5:7], r[-2], r[-1]) for r in rows if r and r[0] == account)


def open_positions_agree(browser: Browser, env: dict[str, str], account: str, deadline: float) -> list[tuple[str, ...]]:
    """Once `account` holds a position, its open rows on the board equal `arbees positions` (read between two
    identical board reads, so nothing moved meanwhile); returns them."""
    field = f'document.querySelector(\'[data-account="{account}"][data-field="open_positions"]\')?.textContent'
    while True:
        browser.wait_for(f"Number({field} || 0) > 0", max(deadline - time.monotonic(), 1))
        shown = board_state(browser)
        cli_rows = [[c.strip() for c in re.split(r"[│┃]", ln) if c.strip()]
                    for ln in cli(env, "positions", "--account", account).splitlines()]
        after = board_state(browser)
        board = position_rows(shown["positions"], account)
        if board and shown["positions"] == after["positions"] and board == position_rows(cli_rows, account):
            assert int(shown["accounts"][account]["open"]) == len(board)
            return board
        assert time.monotonic() < deadline, f"board {board}, then {position_rows(after['positions'], account)}, " \
                                            f"cli {position_rows(cli_rows, account)}"
        time.sleep(1)


def test_board_renders_the_recorded_session_and_agrees_with_the_cli(kafka_bootstrap: str, database_url: str,
                                                                     tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)", pytrace=False)
    assert not ensure_topics(kafka_bootstrap).problems
    tag = uuid.uuid4().hex[:8]
    account, port = f"board-{tag}", free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": database_url,
           "ARBEES_STACK_DIR": str(tmp_path), "ARBEES_APP_ID": f"board-{tag}", "ARBEES_ACCOUNTS": account,
           "ARBEES_TRADING_EVENTS": EVENT, "ARBEES_BOARD_PORT": str(port), "ARBEES_HEARTBEAT_S": "1",
           "ARBEES_SCREEN_EVERY_S": "5",
           # the charts from this run only: other runs of the same session on this broker are minutes old
           "ARBEES_BOARD_WINDOW_H": "0.02"}
    pub = Publisher(kafka_bootstrap, service="test")
    pub.publish("ledger", account, LedgerEntry(entry_id=f"deposit:{account}:1", account=account, ts=START_MS,
                                               delta_micros=1_000_000_000, balance_micros=1_000_000_000, version=1,
                                               reason="deposit: paper bankroll"))
    pub.flush()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screen = tmp_path / "screen.txt"
    with screen.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", "--replay", "nba-2026-finals-g3", "--only", PARTS],
                               cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    browser = Browser(binary)
    try:
        browser.open(f"http://127.0.0.1:{port}/")
        # mid-replay: the game with the model and both venues, its chart, every section
        browser.wait_for("""(() => { const t = document.querySelector('#games .title')?.textContent || '';
            return t.includes('Spurs') && t.includes('kalshi') && t.includes('polymarket') && t.includes('model 0.')
                   && document.querySelectorAll('#games canvas').length > 0; })()""", 240)
        live = board_state(browser)
        canvases = browser.evaluate("""[...document.querySelectorAll('#games canvas')].map(c => {
            const r = c.getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; })""")
        shot = browser.screenshot(ARTIFACTS / f"board-live-{tag}.png")
        print(f"\nboard screenshot during the replay: {shot}")
        assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
        assert canvases and all(drawn(shot, c) for c in canvases), canvases  # each game's chart has its lines
        for title in ("Bankroll", "Live events", "Current edges", "Signals", "Open positions", "Orders", "Fills",
                      "Exposure", "Risk and breakers", "Service health", "Alerts"):
            assert any(title in s for s in live["sections"]), (title, live["sections"])
        assert account in live["accounts"]

        # a position open mid-replay: the board's row equals what `arbees positions` prints at that moment
        held = open_positions_agree(browser, env, account, time.monotonic() + 240)
        print(f"open positions mid-replay, board and CLI alike: {held}")

        # a worker killed mid-run: the supervisor restarts it, the page keeps updating
        status = json.loads((tmp_path / "run" / "status.json").read_text())
        trading_pid = next(p["pid"] for p in status["parts"] if p["name"] == "trading")
        os.kill(trading_pid, signal.SIGKILL)
        before = int(live["version"] or 0)
        browser.wait_for("Number(document.body.dataset.version) > " + str(before), 60)

        # the replay plays out, the log goes quiet: then board and CLI must say the same
        def finished() -> bool:
            snap = json.loads((tmp_path / "run" / "status.json").read_text())
            parts = {p["name"]: p for p in snap["parts"]}
            return parts["replay"]["state"] == "done" and parts["trading"]["state"] == "running"

        deadline = time.monotonic() + 240
        while not finished():
            assert run.poll() is None, screen.read_text()[-3000:]
            assert time.monotonic() < deadline, screen.read_text()[-3000:]
            time.sleep(1)
        # the same moment: the board before and after the CLI reads agree, and the CLI says what it shows
        # (downstream of the replay, the restarted trading worker may still be working: try again until quiet)
        while True:
            shown = board_state(browser)
            pnl = cli_row(cli(env, "pnl", "--account", account), account)
            positions = cli(env, "positions", "--account", account)
            after = board_state(browser)
            board = shown["accounts"][account]
            _, bankroll, _version, _deposits, realized, fees, net, unrealized = pnl
            same = (board["bankroll"], board["realized"], board["fees"], board["net"], board["unrealized"]) == \
                (bankroll, realized, fees, net, unrealized)
            if after["accounts"][account] == board and same:
                break
            assert time.monotonic() < deadline, f"board {board} then {after['accounts'][account]}, cli {pnl}"
            time.sleep(2)
        final = browser.screenshot(ARTIFACTS / f"board-final-{tag}.png")
        print(f"board screenshot after the replay: {final}; {account}: {board}")
        rows = lambda text: [ln for ln in text.splitlines() if ln.strip("│┃ ").startswith(account)]  # noqa: E731
        assert int(board["open"]) == len(rows(positions)) == len([r for r in shown["positions"] if r[0] == account])
        traded = rows(cli(env, "positions", "--account", account, "--all"))
        assert traded and board["fees"] != "$0.00", f"the session traded nothing for {account}"
        assert any(r[0] == "trading" for r in shown["health"])
    finally:
        browser.close()
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
