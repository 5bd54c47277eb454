"""The dashboard's rendering without a server: charts, series, formats, the timeline, the session rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.dashboard import charts
from ledger.dashboard.render import Chrome, render, seconds, stacked_by, visible, when
from ledger.dashboard.timeline import timeline
from ledger.http.session import safe_next, session_value
from ledger.printable import printable
from ledger.status import Outcome, Status
from ledger.views import HistoryEntry, Rejection

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>\x1b[2J"&'


def test_chart_labels_are_text() -> None:
    svg = charts.stacked_bars([HOSTILE], [(HOSTILE, [3])]) + charts.funnel_bars([(HOSTILE, 2)], 4)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_stacked_bars_are_as_tall_as_their_values() -> None:
    svg = str(charts.stacked_bars(["a", "b"], [("x", [1, 4]), ("y", [3, 0])]))
    heights = sorted(float(h) for h in __import__("re").findall(r'height="([\d.]+)"', svg) if h != "100%")
    plot = 260 - 36 - 12
    assert heights == pytest.approx(sorted([plot / 4, plot, plot * 3 / 4]))


def test_no_bucket_no_chart() -> None:
    assert "Nothing in this range" in charts.stacked_bars([], [])


@given(st.lists(st.dictionaries(st.sampled_from("abcdefghij"), st.integers(0, 50)), min_size=1, max_size=6))
def test_series_keep_every_count(rows: list[dict[str, int]]) -> None:
    """The top series and "other" add up, label by label, to each row's total."""
    labels = [str(n) for n in range(len(rows))]
    series = stacked_by(labels, rows, top=3)
    assert len(series) <= 4
    for i, row in enumerate(rows):
        assert sum(values[i] for _, values in series) == sum(row.values())


def test_series_in_a_given_order_keep_it() -> None:
    series = stacked_by(["d"], [{"read": 1, "sent": 5}], order=("sent", "delivered", "read"))
    assert series == [("sent", [5]), ("delivered", [0]), ("read", [1])]


def test_formats() -> None:
    assert when(T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))) == "2026-01-02 03:04:05Z"
    assert when(None) == "—"
    assert [seconds(v) for v in (None, 9.94, 600, 7200)] == ["—", "9.9 s", "10.0 min", "2.0 h"]
    assert visible("a\nb\x1b") == "a\\x0ab\\x1b"
    assert visible("a\nb\x1b", block=True) == "a\nb\\x1b"
    assert printable("\u202egnp.exe") == "\\u202egnp.exe"


def test_a_page_escapes_what_it_is_given() -> None:
    html = render("login.html", Chrome(static=True), title=HOSTILE, action="/login", next="/", error=HOSTILE)
    assert "<script>" not in html
    assert "\x1b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J&#34;&amp;" in html


def entry(version: int, event: str, outcome: Outcome | None, received: int, raw: str | None = None) -> HistoryEntry:
    return HistoryEntry(
        version=version,
        event=event,
        stage=Status.SENT if outcome else None,
        outcome=outcome,
        occurred_at=None,
        received_at=T0 + timedelta(seconds=received),
        reason="it contradicts" if outcome is Outcome.REJECTED else None,
        error=None,
        raw=raw,
    )


def test_the_timeline_adds_refused_input_but_not_contradictions_twice() -> None:
    entries = [entry(1, "opened", None, 0), entry(2, "stage_reported", Outcome.APPLIED, 2, "{}")]
    entries.append(entry(3, "report_rejected", Outcome.REJECTED, 6, "{}"))
    refused = [
        Rejection(id=1, received_at=T0 + timedelta(seconds=4), kind="unmapped", message_id="m", reason="?", raw=b"x"),
        Rejection(
            id=2, received_at=T0 + timedelta(seconds=6), kind="contradiction", message_id="m", reason="", raw=b""
        ),
    ]
    lines = timeline(entries, refused)
    assert [(line.what, line.outcome) for line in lines] == [
        ("first heard of", None),
        ("report: sent", "applied"),
        ("refused input (unmapped)", "rejected"),
        ("contradicting report: sent", "rejected"),
    ]
    assert lines[2].raw == "x"
    assert lines[3].detail == "it contradicts"


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/dashboard/failures?by=code", "/dashboard/failures?by=code"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_signing_in_only_a_path_of_this_server(asked: str | None, went: str) -> None:
    assert safe_next(asked, "/") == went


def test_the_session_cookie_is_not_the_token_and_follows_it() -> None:
    assert session_value("t") != "t"
    assert session_value("t") == session_value("t") != session_value("u")


def test_form_times_are_utc_and_bad_ones_are_named() -> None:
    from ledger.dashboard.forms import PageInputError, day, field, moment

    assert moment({"since": "2026-01-02T03:04"}, "since") == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert moment({"since": "2026-01-02T03:04+01:00"}, "since") == datetime(2026, 1, 2, 2, 4, tzinfo=UTC)
    assert moment({"since": ""}, "since") is None
    assert field(datetime(2026, 1, 2, 3, 4, 59, tzinfo=UTC)) == "2026-01-02T03:04"
    assert day("2026-01-02") == {"since": datetime(2026, 1, 2, tzinfo=UTC), "until": datetime(2026, 1, 3, tzinfo=UTC)}
    for fields, name, message in (
        ({"until": "soon"}, "until", "until: not a time"),
        ({"until": "9999-12-31T23:59-01:00"}, "until", "until: out of range"),
    ):
        with pytest.raises(PageInputError, match=message):
            moment(fields, name)
    with pytest.raises(PageInputError, match="day: not a date"):
        day("2026-13-01")
