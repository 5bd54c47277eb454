"""Past one process, on PostgreSQL: two receivers (one of them ``--workers 2``) and one
projector (``ledger project --follow``) on one database.  A realistic stream, with the
provider's retries landing on either receiver, is posted to both at once: every report
acknowledged is in the log, and once the projector has caught up the views equal a rebuild
from the log, and the receivers' reports (which read the views as the projector left
them, ``--no-catch-up``) say the same.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from prometheus_client.parser import text_string_to_metric_families

from ledger import Ledger
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, sign
from ledger.simulate import Traffic
from projections import Projections
from projections.base import metadata
from tests.servers import AUTH, SECRET, Server, free_port, poll, serving, wait_until_up

pytestmark = pytest.mark.postgres

REPORTS = 600
RETRIED = 0.15  # the share of bodies the provider sends again, to the other receiver


@contextmanager
def projector(url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``ledger project --follow`` on ``url``, stopped with SIGTERM."""
    command = [sys.executable, "-m", "ledger.cli", "project", "--follow", "--db", url]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            status = process.wait(timeout=120)
    assert status == 0, f"the projector did not stop cleanly ({status}):\n{log.read_text()}"


def views(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table (tracking positions aside), sorted."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(map(tuple, connection.execute(sqlalchemy.select(table))), key=repr)
                for table in metadata.sorted_tables
                if table.name != "view_tracking"
            }
    finally:
        engine.dispose()


def post(base_url: str, body: bytes) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        return client.post(WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})


def test_two_receivers_and_a_projector_lose_nothing_and_the_views_equal_a_rebuild(
    postgres_database: str, tmp_path: Path
) -> None:
    url = postgres_database
    stream = [
        json.dumps(p) if not isinstance(p, str) else p
        for p, _ in zip(Traffic(300, seed=23).webhooks(), range(REPORTS), strict=False)
    ]
    bodies = [body.encode() for body in stream]
    chance = random.Random(23)
    with (
        serving(url, tmp_path / "a.log", "--workers", "2", "--no-catch-up") as first,
        serving(url, tmp_path / "b.log", "--no-catch-up") as second,
        projector(url, tmp_path / "projector.log"),
    ):
        receivers = [first.base_url, second.base_url]
        # Each body goes to one receiver; some again to the other (the provider's retry).
        sends = [(receivers[n % 2], body) for n, body in enumerate(bodies)]
        sends += [(receivers[(n + 1) % 2], body) for n, body in enumerate(bodies) if chance.random() < RETRIED]
        chance.shuffle(sends)
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda send: (send[1], post(*send)), sends))
        assert {response.status_code for _, response in answers} <= {200, 400}

        with Ledger.open(url, create=False) as ledger:
            stored = {(r.message_id, r.raw) for r in ledger.rejections(limit=10_000)}
            for body, response in answers:
                outcome = response.json() if response.status_code == 200 else response.json()["outcome"]
                if outcome["kind"] == "rejected":
                    assert (outcome["message_id"], body) in stored
                elif outcome["kind"] in ("applied", "late"):
                    assert body.decode() in [entry.raw for entry in ledger.history(outcome["message_id"])]
                else:  # a duplicate: the message had this report already
                    assert ledger.message(outcome["message_id"]).version > 1
            head = ledger.recorder.max_notification_id()

        with Projections.open(url, create=False) as watcher:
            poll(lambda: min(watcher.positions().values()) == head, "the projector to catch up")
        followed = views(url)
        funnel = first.get("/reports/summary").json()
        assert second.get("/reports/summary").json() == funnel

    with Projections.open(url, create=False) as rebuilt:
        rebuilt.rebuild()
        assert [row.to_dict() for row in rebuilt.summary()] == funnel
    assert views(url) == followed
    assert sum(len(rows) for rows in followed.values()) > REPORTS / 3  # the views are not empty
    assert (tmp_path / "a.log").read_text().count("Application shutdown complete") == 2  # both workers drained


def worker_pids(supervisor: int) -> list[int]:
    """The receiver workers the supervisor started (its children but multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        if parent == str(supervisor) and b"resource_tracker" not in command:
            found.append(int(stat.parent.name))
    return found


def start(url: str, log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port), "--db", url, *args]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}")
    wait_until_up(server, process, log)
    server.http.close()
    if "--workers" in args:
        # One worker answering is not all of them up: a signal sent while another still
        # starts would find no lifespan of it to drain.
        workers = int(args[args.index("--workers") + 1])
        poll(lambda: log.read_text().count("Application startup complete") >= workers, "every worker to start")
    return process, server.base_url


def test_ctrl_c_to_the_supervisor_stops_every_worker_cleanly(postgres_database: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process, _ = start(postgres_database, log, "--workers", "2")
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    process.send_signal(signal.SIGINT)  # to the supervisor alone, as a terminal's Ctrl-C now is
    assert process.wait(timeout=120) == 0, log.read_text()
    assert log.read_text().count("Application shutdown complete") == 2
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_a_worker_that_dies_stops_the_others_and_the_server_exits_6(postgres_database: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process, _ = start(postgres_database, log, "--workers", "2")
    doomed, survivor = worker_pids(process.pid)
    os.kill(doomed, signal.SIGKILL)
    assert process.wait(timeout=120) == 6, log.read_text()
    last = log.read_text().splitlines()[-1]
    assert re.fullmatch(r"error: worker ledger-serve-\d exited with status -9; stopped the others", last), last
    assert not Path(f"/proc/{survivor}").exists()


def test_workers_stop_when_the_supervisor_is_killed(postgres_database: str, tmp_path: Path) -> None:
    process, _ = start(postgres_database, tmp_path / "serve.log", "--workers", "2")
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    process.kill()  # SIGKILL: the supervisor stops nobody
    process.wait(timeout=120)
    # The kernel sends each worker SIGTERM (PR_SET_PDEATHSIG); they drain and end.
    poll(lambda: not [pid for pid in workers if _running(pid)], "the workers to end")


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def ingested(base_url: str) -> float:
    """The reports the receiver at ``base_url`` counted, as one scrape on a new connection shows."""
    answer = httpx.get(f"{base_url}/metrics", headers=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "ledger_reports_ingested_total"
    )


def test_every_scrape_counts_what_every_worker_ingested(postgres_database: str, tmp_path: Path) -> None:
    stream = zip(Traffic(40, seed=5).webhooks(), range(40), strict=False)
    bodies = [(body if isinstance(body, str) else json.dumps(body)).encode() for body, _ in stream]
    with serving(postgres_database, tmp_path / "serve.log", "--workers", "2") as server:
        # Each post on a new connection: the kernel spreads them over both workers' sockets.
        answers = [post(server.base_url, body) for body in bodies]
        assert {answer.status_code for answer in answers} <= {200, 400}  # 400: malformed, counted too
        # Whichever worker answers a scrape, it counts both workers' reports.
        assert [ingested(server.base_url) for _ in range(8)] == [len(bodies)] * 8
