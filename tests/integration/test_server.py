"""The HTTP receiver end to end (DESIGN §5).

``ledger serve`` runs in a subprocess on a free loopback port and is spoken to with
httpx: every status code of the contract, on a SQLite file and on PostgreSQL (through
a proxy the test can cut, to take the database away and give it back), concurrent
posts, and a clean shutdown.  The group-commit writer is tested on its own (batches, a
poisonous report, an unavailable database, draining on close), and Schemathesis checks
the application against its own OpenAPI document, in process.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import sqlalchemy
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.python import asgi
from typer.testing import CliRunner

from ledger import DataRefusedError, Ledger, MessageNotFoundError, Status, StorageError
from ledger.batching import GroupCommitWriter, WriterUnavailableError
from ledger.cli import app as cli
from ledger.connectly import MAX_PAYLOAD_BYTES
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, ServerSettings, create_app, sign
from ledger.simulate import Traffic
from ledger.sql import storage_errors
from tests.faults import CuttableProxy
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, webhook
from tests.problems import assert_problem
from tests.servers import AUTH, SECRET, TOKEN, Server, body_of, free_port, poll, serving


class ServerContract:
    """Subclasses provide ``database`` (an empty database's URL, for the test's own reads),
    ``server_url`` (what the server opens) and ``outage`` (the database unavailable while inside)."""

    #: Whether reads (and so /readyz) fail during the outage too.
    outage_stops_reads = True

    @pytest.fixture
    def database(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def server_url(self, database: str) -> str:
        return database

    @pytest.fixture
    def outage(self, database: str) -> Callable[[], AbstractContextManager[None]]:
        raise NotImplementedError

    @pytest.fixture
    def server(self, server_url: str, tmp_path: Path) -> Iterator[Server]:
        with serving(server_url, tmp_path / "server.log") as server:
            yield server

    @pytest.fixture
    def ledger(self, database: str, server: Server) -> Iterator[Ledger]:
        with Ledger.open(database) as ledger:
            yield ledger

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
    def test_a_report_is_applied_and_its_retry_is_a_duplicate(
        self, server: Server, ledger: Ledger, content_type: str
    ) -> None:
        first = server.report(webhook("m-1", Status.DELIVERED, 10), **{"content-type": content_type})
        assert first.status_code == 200
        assert first.json() == {
            "kind": "applied",
            "message_id": "m-1",
            "status": "delivered",
            "reason": None,
            "malformed": False,
        }
        retry = server.report(webhook("m-1", Status.DELIVERED, 10), **{"content-type": content_type})
        assert (retry.status_code, retry.json()["kind"]) == (200, "duplicate")
        assert ledger.message("m-1").status is Status.DELIVERED

    def test_a_report_of_an_earlier_stage_after_a_later_one_is_late(self, server: Server) -> None:
        assert server.report(webhook("m-1", Status.READ, 20)).json()["kind"] == "applied"
        late = server.report(webhook("m-1", Status.DELIVERED, 10))
        assert (late.status_code, late.json()["kind"], late.json()["status"]) == (200, "late", "read")

    def test_a_contradiction_is_answered_200_and_kept(self, server: Server, ledger: Ledger) -> None:
        server.report(webhook("m-1", Status.DELIVERED, 10))
        refused = server.report(webhook("m-1", Status.FAILED, 20, error=OPTED_OUT))
        assert refused.status_code == 200
        assert (refused.json()["kind"], refused.json()["status"]) == ("rejected", "delivered")
        assert [(r.kind, r.message_id) for r in ledger.rejections()] == [("contradiction", "m-1")]

    @pytest.mark.parametrize("body", [b"{not json", b'{"topic": "delivery_status"}', b"\xff\xfe not text"])
    def test_a_malformed_body_is_400_and_kept_byte_for_byte(self, server: Server, ledger: Ledger, body: bytes) -> None:
        response = server.post(WEBHOOK_PATH, body, **{"content-type": "text/plain"})
        problem = assert_problem(response, 400, "invalid_payload")
        assert problem["outcome"]["kind"] == "rejected"
        [kept] = ledger.rejections()
        assert (kept.kind, kept.raw, kept.reason) == ("malformed", body, problem["detail"])

    def test_a_missing_bad_or_altered_signature_is_401_and_nothing_is_stored(
        self, server: Server, ledger: Ledger
    ) -> None:
        body = body_of(webhook("m-1", Status.SENT))
        altered = body.replace(b"m-1", b"m-2")
        assert sum(a != b for a, b in zip(body, altered, strict=True)) == 1  # One byte differs.
        unsigned = server.http.post(WEBHOOK_PATH, content=body)
        wrong = server.post(WEBHOOK_PATH, body, signature=sign("another secret", body))
        tampered = server.post(WEBHOOK_PATH, altered, signature=sign(SECRET, body))
        assert_problem(unsigned, 401, "unsigned")
        assert_problem(wrong, 401, "bad_signature")
        assert_problem(tampered, 401, "bad_signature")
        for message_id in ("m-1", "m-2"):
            with pytest.raises(MessageNotFoundError):
                ledger.message(message_id)
        assert ledger.rejections() == []

    def test_a_body_over_the_limit_is_413_whatever_its_length_header_says(self, server: Server, ledger: Ledger) -> None:
        body = b'{"padding": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
        declared = server.post(WEBHOOK_PATH, body)
        chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
        streamed = server.http.post(  # Chunked: no Content-Length to trust.
            WEBHOOK_PATH, content=iter(chunks), headers={SIGNATURE_HEADER: sign(SECRET, body)}
        )
        assert "content-length" not in streamed.request.headers
        assert_problem(declared, 413, "too_large")
        assert_problem(streamed, 413, "too_large")
        assert ledger.rejections() == []

    def test_the_send_api_answer_is_recorded_with_the_api_token(self, server: Server) -> None:
        sent = {"id": "m-1", "recipient": RECIPIENT, "sender": SENDER, "campaign": "fall"}
        answer = server.record(sent)
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["campaign"]) == ("accepted", "fall")
        assert server.record(sent).json() == answer.json()
        # The provider's signature is not what authorises the host's own record.
        signed = server.post("/messages/sent", body_of(sent))
        assert_problem(signed, 401, "unauthorized")
        assert_problem(server.record(sent, Authorization="Bearer wrong"), 401, "unauthorized")
        assert_problem(server.record({"id": "m-2"}), 400, "invalid_request")
        assert_problem(server.record(sent | {"recipient": "+10000000000"}), 409, "conflict")

    def test_reads_need_the_bearer_token(self, server: Server) -> None:
        server.report(webhook("m-1", Status.SENT))
        paths = ["/messages/m-1", "/messages/m-1/history", "/messages", "/rejections"]
        paths += ["/reports/failures", "/reports/summary"]
        for path in paths:
            assert_problem(server.http.get(path), 401, "unauthorized")
            assert_problem(server.http.get(path, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
            assert server.get(path).status_code == 200
        assert server.http.get("/healthz").status_code == server.http.get("/readyz").status_code == 200

    def test_reads_answer_the_ledger_and_reports_are_never_stale(self, server: Server) -> None:
        server.record({"id": "m-1", "recipient": RECIPIENT, "campaign": "fall"})
        server.report(webhook("m-1", Status.SENT, 0, recipient=RECIPIENT))
        server.report(webhook("m-1", Status.FAILED, 30, recipient=RECIPIENT, error=OPTED_OUT))
        assert server.get("/messages/m-1").json()["error"]["trace_id"] == OPTED_OUT.trace_id
        events = [entry["event"] for entry in server.get("/messages/m-1/history").json()]
        assert events == ["opened", "send_recorded", "stage_reported", "stage_reported"]
        assert_problem(server.get("/messages/unknown"), 404, "not_found")
        [group] = server.get("/reports/failures", by="code").json()
        assert (group["key"], group["count"], group["trace_ids"]) == (OPTED_OUT.code, 1, [OPTED_OUT.trace_id])
        [failure] = server.get("/reports/failures", details="true", since="2022-01-01T00:00:00").json()
        assert (failure["message_id"], failure["campaign"]) == ("m-1", "fall")
        assert server.get("/reports/failures", until="2000-01-01T00:00:00Z").json() == []
        [row] = server.get("/reports/summary", by="campaign").json()
        assert (row["key"], row["counts"]["failed"]) == ("fall", 1)
        # A report posted now is in the next report.
        server.report(webhook("m-2", Status.FAILED, 40, error=OPTED_OUT))
        assert server.get("/reports/failures").json()[0]["count"] == 2

    def test_messages_are_listed_a_page_at_a_time_and_rejections_with_their_reasons(self, server: Server) -> None:
        for n in range(5):
            server.record({"id": f"m-{n}", "recipient": RECIPIENT, "campaign": "fall" if n % 2 else "spring"})
        server.report(webhook("m-1", Status.FAILED, 40, recipient=RECIPIENT, error=OPTED_OUT))
        assert server.report("<b>not json</b>").status_code == 400
        first = server.get("/messages", limit=2).json()
        second = server.get("/messages", limit=2, after=first["next_cursor"]).json()
        third = server.get("/messages", limit=2, after=second["next_cursor"]).json()
        listed = [row["message_id"] for page in (first, second, third) for row in page["rows"]]
        assert sorted(listed) == [f"m-{n}" for n in range(5)]
        assert third["next_cursor"] is None
        assert [r["message_id"] for r in server.get("/messages", status="failed").json()["rows"]] == ["m-1"]
        fall = server.get("/messages", campaign="fall", recipient=RECIPIENT).json()["rows"]
        assert sorted(row["message_id"] for row in fall) == ["m-1", "m-3"]
        assert_problem(server.get("/messages", after="not a cursor"), 400, "invalid_request")
        assert_problem(server.get("/messages", status="lost"), 400, "invalid_request")
        [rejected] = server.get("/rejections").json()
        assert (rejected["kind"], rejected["raw"]) == ("malformed", "<b>not json</b>")
        assert rejected["reason"].startswith("invalid payload")
        assert server.get("/rejections", message_id="m-1").json() == []

    def test_concurrent_posts_are_all_answered_and_every_acknowledged_one_is_stored(
        self, server: Server, ledger: Ledger
    ) -> None:
        bodies = [body_of(payload) for payload, _ in zip(Traffic(100, seed=7).webhooks(), range(200), strict=False)]

        def post(body: bytes) -> httpx.Response:
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                return client.post(WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(post, bodies))
        assert len(responses) == 200
        assert {r.status_code for r in responses} <= {200, 400}
        stored = {(r.message_id, r.raw) for r in ledger.rejections(limit=1000)}
        for body, response in zip(bodies, responses, strict=True):
            outcome = response.json() if response.status_code == 200 else response.json()["outcome"]
            if response.status_code == 400 or outcome["kind"] == "rejected":
                assert (outcome["message_id"], body) in stored
            elif outcome["kind"] in ("applied", "late"):
                assert body.decode() in [entry.raw for entry in ledger.history(outcome["message_id"])]
            else:
                assert ledger.message(outcome["message_id"]).version > 1

    def test_a_database_outage_is_503_and_the_server_recovers_without_a_restart(
        self, server: Server, outage: Callable[[], AbstractContextManager[None]]
    ) -> None:
        assert server.report(webhook("m-1", Status.SENT)).status_code == 200
        with outage():
            refused = server.report(webhook("m-1", Status.DELIVERED, 10))
            assert_problem(refused, 503, "unavailable")
            assert refused.headers["retry-after"] == "5"
            if self.outage_stops_reads:
                assert server.http.get("/readyz").status_code == 503
        poll(lambda: server.http.get("/readyz").status_code == 200, "the database to be back")
        retried = server.report(webhook("m-1", Status.DELIVERED, 10))
        # Applied, not a duplicate: the refused attempt stored nothing.
        assert (retried.status_code, retried.json()["kind"]) == (200, "applied")


class TestServerOnSQLiteFile(ServerContract):
    outage_stops_reads = False  # A writer holding the lock stops writes; WAL readers go on.

    @pytest.fixture
    def database(self, sqlite_database: str) -> str:
        return sqlite_database

    @pytest.fixture
    def outage(self, database: str) -> Callable[[], AbstractContextManager[None]]:
        @contextmanager
        def locked() -> Iterator[None]:
            """Another process holds SQLite's write lock (for longer than the server waits for it)."""
            connection = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                connection.execute("ROLLBACK")
                connection.close()

        return locked


@pytest.mark.postgres
class TestServerOnPostgreSQL(ServerContract):
    @pytest.fixture
    def database(self, postgres_database: str) -> str:
        return postgres_database

    @pytest.fixture
    def proxy(self, database: str) -> Iterator[CuttableProxy]:
        url = sqlalchemy.make_url(database)
        proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
        yield proxy
        proxy.close()

    @pytest.fixture
    def server_url(self, database: str, proxy: CuttableProxy) -> str:
        url = sqlalchemy.make_url(database).set(host="127.0.0.1", port=proxy.port)
        return url.render_as_string(hide_password=False)

    @pytest.fixture
    def outage(self, proxy: CuttableProxy) -> Callable[[], AbstractContextManager[None]]:
        @contextmanager
        def cut() -> Iterator[None]:
            proxy.cut()
            try:
                yield
            finally:
                proxy.restore()

        return cut

    def test_a_body_postgresql_cannot_store_does_not_fail_the_reports_sent_with_it(self, server: Server) -> None:
        poison = b'{"statusUpdate": {"id": "nul\\u0000here"}}'  # PostgreSQL text cannot hold NUL.
        bodies = [poison] + [body_of(webhook(f"m-{i}", Status.SENT)) for i in range(20)]
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            responses = list(pool.map(lambda body: server.post(WEBHOOK_PATH, body), bodies))
        # 400 once the ledger can keep such a body; until then 503 (nothing stored, retried).
        assert responses[0].status_code in (400, 503)
        assert [r.json()["kind"] for r in responses[1:]] == ["applied"] * 20


@pytest.fixture
def writer(sqlite_database: str) -> Iterator[GroupCommitWriter]:
    """A writer whose queue is filled before it starts, so batches do not depend on timing."""
    writer = GroupCommitWriter(Ledger.open(sqlite_database), max_batch=50)
    yield writer
    writer.close()


def test_the_writer_commits_waiting_reports_together_and_answers_each(writer: GroupCommitWriter) -> None:
    futures = [writer.ingest(body_of(webhook(f"m-{i}", Status.SENT))) for i in range(120)]
    sent = writer.run(lambda ledger: ledger.record_sent("m-0", sender=SENDER, recipient=RECIPIENT))
    writer.start()
    assert [f.result(timeout=60).message_id for f in futures] == [f"m-{i}" for i in range(120)]
    assert sent.result(timeout=60).status is Status.SENT
    assert (writer.batches, writer.reports) == (3, 120)


def test_a_batch_that_fails_because_of_one_report_fails_only_that_one(
    writer: GroupCommitWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_many = writer.ledger.ingest_many

    def refusing_poison(payloads: list[bytes]) -> Any:
        if any(b"poison" in payload for payload in payloads):
            with storage_errors("save"):  # classified as the ledger classifies the database's refusal
                raise sqlalchemy.exc.DataError("INSERT", {}, ValueError("NUL"))
        return ingest_many(payloads)

    monkeypatch.setattr(writer.ledger, "ingest_many", refusing_poison)
    good = [writer.ingest(body_of(webhook(f"m-{i}", Status.SENT))) for i in range(5)]
    poison = writer.ingest(body_of(webhook("poison", Status.SENT)))
    writer.start()
    assert [f.result(timeout=60).kind.value for f in good] == ["applied"] * 5
    with pytest.raises(DataRefusedError, match="NUL"):
        poison.result(timeout=60)


def test_a_batch_that_fails_because_of_the_database_fails_all_its_reports_at_once(
    writer: GroupCommitWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def unavailable(payloads: list[bytes]) -> Any:
        calls.append(len(payloads))
        cause = sqlalchemy.exc.OperationalError("SELECT", {}, ConnectionRefusedError())
        raise StorageError("could not load messages: connection refused") from cause

    monkeypatch.setattr(writer.ledger, "ingest_many", unavailable)
    futures = [writer.ingest(body_of(webhook(f"m-{i}", Status.SENT))) for i in range(5)]
    writer.start()
    for future in futures:
        with pytest.raises(StorageError, match="connection refused"):
            future.result(timeout=60)
    assert calls == [5]


def test_the_writer_stores_what_is_queued_before_it_closes_then_refuses(writer: GroupCommitWriter) -> None:
    futures = [writer.ingest(body_of(webhook(f"m-{i}", Status.SENT))) for i in range(10)]
    writer.start()
    writer.close()
    assert all(f.result(timeout=0).kind.value == "applied" for f in futures)
    with pytest.raises(WriterUnavailableError):
        writer.ingest(body_of(webhook("m-late", Status.SENT)))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--host", "0.0.0.0", "--secret", SECRET], "without an API token"),
        (["--host", "0.0.0.0", "--api-token", TOKEN], "without a webhook secret"),
        (["--db", "sqlite://"], "in-memory database"),
        (["--webhook-path", "hooks"], "must start with '/'"),
    ],
)
def test_serve_refuses_settings_that_expose_or_lose_data(
    args: list[str], words: str, sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_API_TOKEN", raising=False)
    monkeypatch.delenv("LEDGER_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--db", sqlite_database, *args], catch_exceptions=False)
    assert result.exit_code == 2
    assert words in result.output


def serve_until_it_exits(*args: str) -> subprocess.CompletedProcess[str]:
    """``ledger serve`` expected to stop by itself (refused start-up), with no token or secret set."""
    command = [sys.executable, "-m", "ledger.cli", "serve", "--no-access-log", *args]
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_WEBHOOK_SECRET", "LEDGER_API_TOKEN")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/no-such-directory/ledger.db",
        "postgresql+psycopg://ledger@127.0.0.1:{closed}/ledger",  # Nothing listens on that port.
    ],
)
def test_serve_with_a_database_it_cannot_open_exits_3_with_one_line(url: str, tmp_path: Path) -> None:
    database = url.format(tmp=tmp_path, closed=free_port())
    ended = serve_until_it_exits("--db", database, "--port", str(free_port()))
    assert ended.returncode == 3, ended.stderr
    [line] = ended.stderr.splitlines()
    assert line.startswith("error: could not open the ledger: ")
    assert ended.stdout == ""


def test_serve_on_a_port_in_use_exits_4_with_one_line_and_opens_no_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ended = serve_until_it_exits("--db", f"sqlite:///{tmp_path / 'ledger.db'}", "--port", str(port))
    assert ended.returncode == 4, ended.stderr
    assert ended.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert not (tmp_path / "ledger.db").exists()


def test_serve_with_several_workers_on_sqlite_exits_2_with_one_line(tmp_path: Path) -> None:
    ended = serve_until_it_exits("--db", f"sqlite:///{tmp_path / 'ledger.db'}", "--port", "0", "--workers", "2")
    assert ended.returncode == 2, ended.stderr
    assert ended.stderr.splitlines() == [
        "error: --workers 2: several processes write at once, which needs PostgreSQL, not sqlite"
    ]


def test_insecure_public_serves_without_token_or_secret_and_says_so_once_each(
    sqlite_database: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    # Empty options override the variables serving() sets: no token, no secret.
    args = ("--host", "0.0.0.0", "--insecure-public", "--secret", "", "--api-token", "")
    with serving(sqlite_database, log, *args) as server:
        unsigned = server.http.post(WEBHOOK_PATH, content=body_of(webhook("m-1", Status.SENT)))
        read = server.http.get("/messages/m-1")  # No Authorization header.
    assert (unsigned.status_code, unsigned.json()["kind"]) == (200, "applied")
    assert (read.status_code, read.json()["status"]) == (200, "sent")
    notes = [line for line in log.read_text().splitlines() if line.startswith("note:")]
    assert len(notes) == 2
    assert all("allowed by --insecure-public" in note for note in notes)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    """The application in process; Schemathesis runs its lifespan, stopped afterwards."""
    app = create_app(ServerSettings(url=f"sqlite:///{tmp_path / 'api.db'}", api_token=TOKEN))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_openapi_document_and_never_answers_a_server_error(
    api: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    # Schemathesis' own pytest integration (parametrize, from_fixture) does not run on
    # pytest 9 (it sets Node._nodeid); its Hypothesis strategy does.
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=api.as_strategy(mode))
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        # Not checked: that schema-invalid requests are refused (unknown query parameters are
        # ignored, as usual), nor that the webhook and /messages/sent accept every
        # schema-valid body: the ledger judges them, and a valid text (or a float timestamp)
        # may well be a malformed report, and a blank or unpaired-surrogate id is refused (400);
        # nor that any text is a cursor: only the listing's own next_cursor is; nor that a
        # time and a log position may be asked together (the schema cannot say they exclude
        # each other: 400).
        excluded = [checks.negative_data_rejection]
        query = case.query or {}
        invented_cursor = case.operation.path == "/messages" and "after" in query
        two_clocks = "at_position" in query and ("as_of" in query or "until" in query)
        if case.operation.path in (WEBHOOK_PATH, "/messages/sent") or invented_cursor or two_clocks:
            excluded.append(checks.positive_data_acceptance)
        case.call_and_validate(headers=AUTH, excluded_checks=excluded)

    answers_as_documented()
