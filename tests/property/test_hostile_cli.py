"""Fuzzing the ``ledger`` command: hostile ids, reasons and bodies go in, through the ledger
and through ``ledger ingest``, and come back out of every read command as literal text:
no traceback, a documented exit status, one line on stderr for a failure, and no
character that could steer a terminal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from ledger import Ledger, cli
from ledger.cli import console
from projections import GROUP_BY
from tests.strategies import hostile_payloads, hostile_reports, hostile_texts

runner = CliRunner()

#: The exit statuses the read commands document (4 is serve's; 130 needs a Ctrl-C).
READ_STATUSES = {0, 1, 2, 3}

# Anything but the newline that ends a line: C0 and C1 controls, DEL, bidirectional
# marks, embeddings, overrides and isolates, line and paragraph separators, surrogates.
STEERING = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite ledger for the whole module, printed to by consoles that are never terminals."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('cli')) / 'fuzz.db'}"
    Ledger.open(url).close()
    with pytest.MonkeyPatch.context() as patch:
        # An environment that forces colour (FORCE_COLOR) would add the command's own
        # escape sequences, which are not what this test looks for.
        patch.setattr(console, "out", Console(width=132, force_terminal=False, no_color=True))
        patch.setattr(console, "err", Console(stderr=True, force_terminal=False, no_color=True))
        yield url


def as_line(payload: Any) -> bytes:
    """One JSON Lines line for ``ledger ingest`` (bytes as they are; no line break inside)."""
    if isinstance(payload, bytes):
        body = payload
    elif isinstance(payload, str):
        body = payload.encode("utf-8", errors="surrogatepass")  # invalid UTF-8 included
    else:
        body = json.dumps(payload).encode("utf-8", errors="surrogatepass")
    return body.replace(b"\n", b" ")


def read_commands(ids: list[str], text: str) -> st.SearchStrategy[list[str]]:
    """Every read command, with the stored ids or hostile text where a value goes."""
    value = st.sampled_from([*ids, text])
    machine = st.sampled_from([[], ["--json"]])
    return st.one_of(
        st.tuples(st.sampled_from(["status", "history"]), value, machine).map(lambda c: [c[0], c[1], *c[2]]),
        st.tuples(
            st.sampled_from([*GROUP_BY, text]),
            st.sampled_from([[], ["--details"]]),
            st.sampled_from([[], ["--json"], ["--csv"], ["--json", "--csv"]]),
            st.sampled_from([[], ["--since", text], ["--until", "2022-01-07"]]),
        ).map(lambda c: ["failures", "--by", c[0], *c[1], *c[2], *c[3]]),
        st.tuples(st.sampled_from([[], ["--by", "campaign"], ["--by", "day"], ["--by", text]]), machine).map(
            lambda c: ["summary", *c[0], *c[1]]
        ),
        st.tuples(st.sampled_from([[], ["--limit", text], ["--since", text]]), machine).map(
            lambda c: ["rejections", *c[0], *c[1]]
        ),
    )


def check(result: Any) -> None:
    """What every run must show: a documented status, and only printable text."""
    event(f"exit status {result.exit_code}")  # --hypothesis-show-statistics: what the runs reached
    assert result.exit_code in READ_STATUSES, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    for stream in (result.stdout, result.stderr):
        assert not STEERING.search(stream), stream
    if result.exit_code != 0:
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.splitlines()) == 1, result.stderr


@settings(
    max_examples=60,
    deadline=None,
    # Huge strings are the point; each example runs a dozen commands on a database.
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(
    reports=st.lists(hostile_reports(), min_size=1, max_size=3),
    bodies=st.lists(hostile_payloads(), max_size=3),
    text=hostile_texts,
    dry_run=st.booleans(),
    data=st.data(),
)
def test_hostile_text_comes_out_of_every_read_command_as_literal_text(
    url: str, reports: list[dict[str, Any]], bodies: list[Any], text: str, dry_run: bool, data: st.DataObject
) -> None:
    with Ledger.open(url) as ledger:
        ledger.ingest_many([*reports, *bodies])
    lines = b"\n".join(as_line(payload) for payload in [*bodies, text])
    ingest = ["ingest", "-", "--db", url, *(["--dry-run"] if dry_run else [])]
    check(runner.invoke(cli.app, ingest, input=lines, catch_exceptions=False))
    ids = [report["statusUpdate"]["id"] for report in reports]
    for args in data.draw(st.lists(read_commands(ids, text), min_size=8, max_size=8)):
        check(runner.invoke(cli.app, [*args, "--db", url], catch_exceptions=False))
