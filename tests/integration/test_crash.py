"""Crash safety: a process SIGKILLed at random points leaves whole batches and exact views."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import Ledger, MessageNotFoundError
from projections import Projections
from tests.integration import crash_child
from tests.integration.test_projections import dump, fill

ROOT = Path(__file__).parents[2]
KILLS = 6


def start_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def kill_after(child: subprocess.Popen[str], lines: int, rng: random.Random) -> list[str]:
    """Read ``lines`` progress lines, wait a random moment, SIGKILL; return what it reported."""
    assert child.stdout is not None
    seen = []
    for _ in range(lines):
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line.strip())
    # The random delay is the fault being injected (a kill at an arbitrary point), not synchronisation.
    time.sleep(rng.uniform(0, 0.05))
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=60)
    return seen + [line for line in rest.splitlines() if line]


def batch_state(ledger: Ledger, cycle: int, batch: int) -> str:
    found = 0
    for n in range(crash_child.MESSAGES_PER_BATCH):
        try:
            ledger.message(f"c{cycle}-b{batch}-m{n}")
            found += 1
        except MessageNotFoundError:
            pass
    return {0: "absent", crash_child.MESSAGES_PER_BATCH: "whole"}.get(found, f"torn ({found})")


class CrashContract:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    def test_a_killed_ingest_leaves_whole_batches_and_every_returned_batch(self, url: str) -> None:
        rng = random.Random(1)
        with Ledger.open(url):
            pass
        for cycle in range(KILLS):
            reported = kill_after(start_child("ingest", url, str(cycle)), rng.randint(1, 4), rng)
            returned = {int(line.split()[1]) for line in reported if line.startswith("batch ")}
            with Ledger.open(url) as ledger:
                states = {b: batch_state(ledger, cycle, b) for b in range(max(returned, default=0) + 3)}
            assert all(state in ("whole", "absent") for state in states.values()), states
            assert all(states[b] == "whole" for b in returned), (returned, states)
        print(f"\n{KILLS} ingest kills survived")

    @pytest.mark.parametrize("mode", ["catch_up", "rebuild"])
    def test_killed_projections_recover_to_exactly_a_rebuild(self, url: str, mode: str) -> None:
        rng = random.Random(2)
        with Ledger.open(url) as ledger:
            fill(ledger, 400)
        for _ in range(KILLS // 2):
            kill_after(start_child("project", url, mode), rng.randint(1, 6), rng)
            with Projections.open(url) as views:
                views.catch_up()
                after_crash = dump(views)
                views.rebuild()
                assert dump(views) == after_crash


class TestCrashesOnSQLiteFile(CrashContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestCrashesOnPostgreSQL(CrashContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database
