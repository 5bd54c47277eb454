"""The dashboard's pages, in process: signing in, the numbers shown equal the API's, links between
pages, and stored text (a hostile body, a hostile campaign name) shown as text, never as markup.
The same pages in a real browser: tests/browser/test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from ledger import Ledger, Status
from ledger.http import ServerSettings, create_app
from ledger.http.dashboard import REJECTIONS_PER_PAGE
from ledger.http.session import COOKIE
from tests.asgi import running
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, T0, webhook

TOKEN = "dashboard-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOSTILE = '<script>alert("x")</script><b>bold</b>\x1b[31mred'
HOSTILE_CAMPAIGN = '<img src=x onerror="alert(1)">'

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fill(url: str) -> None:
    """Six messages: read, delivered, sent, failed twice (one in a hostile campaign), accepted; refused input."""
    with Ledger.open(url) as ledger:
        for n in range(6):
            campaign = HOSTILE_CAMPAIGN if n == 4 else "spring"
            ledger.record_sent(f"m-{n}", sender=SENDER, recipient=RECIPIENT, campaign=campaign, sent_at=T0)
        ledger.ingest_many(
            [
                webhook("m-0", Status.SENT, 1),
                webhook("m-0", Status.DELIVERED, 2),
                webhook("m-0", Status.READ, 3),
                webhook("m-1", Status.DELIVERED, 5),
                webhook("m-1", Status.SENT, 4),  # late: fills in the sent time
                webhook("m-2", Status.SENT, 6),
                webhook("m-3", Status.FAILED, 7, error=OPTED_OUT),
                webhook("m-4", Status.FAILED, 8, error=OPTED_OUT),
                webhook("m-0", Status.FAILED, 9, error=OPTED_OUT),  # a contradiction: read, then failed
                HOSTILE.encode(),  # malformed: kept in the rejection store
            ]
        )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    fill(url)
    async with running(create_app(ServerSettings(url=url, api_token=TOKEN))) as client:
        yield client


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def marked(html: str, name: str) -> str:
    """The text of the element marked ``data-testid=name``."""
    found = re.search(rf'data-testid="{re.escape(name)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"no {name} on the page"
    return unescape(found.group(1)).strip()


async def signed_in(client: httpx.AsyncClient) -> None:
    answer = await client.post("/dashboard/login", data={"token": TOKEN, "next": "/"})
    assert answer.status_code == 303
    assert client.cookies.get(COOKIE)


async def test_the_pages_need_signing_in_and_the_cookie_is_not_the_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/dashboard/failures?by=campaign")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Ffailures%3Fby%3Dcampaign"
    wrong = await client.post("/dashboard/login", data={"token": "guess", "next": "/"})
    assert wrong.status_code == 401
    assert "not this server" in wrong.text
    assert COOKIE not in client.cookies
    right = await client.post("/dashboard/login", data={"token": TOKEN, "next": "/dashboard/failures?by=campaign"})
    assert (right.status_code, right.headers["location"]) == (303, "/dashboard/failures?by=campaign")
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert TOKEN not in cookie
    assert (await client.get("/dashboard/failures?by=campaign")).status_code == 200
    # The cookie opens the pages, not the API.
    api = await client.get("/reports/summary")
    assert api.status_code == 401
    await client.post("/dashboard/logout")
    assert (await client.get("/")).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
async def test_signing_in_goes_only_to_a_page_of_this_server(client: httpx.AsyncClient, target: str) -> None:
    answer = await client.post("/dashboard/login", data={"token": TOKEN, "next": target})
    assert answer.headers["location"] == "/"


async def test_a_bearer_token_opens_the_pages_as_it_opens_the_reads(client: httpx.AsyncClient) -> None:
    answer = await client.get("/", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none': no script at all
    assert "default-src 'none'" in answer.headers["content-security-policy"]


async def test_the_overview_shows_the_apis_numbers(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    funnel = (await client.get("/reports/summary", headers=AUTH)).json()[0]
    page = (await client.get("/")).text
    assert marked(page, "total") == f"{funnel['total']:,}" == "6"
    assert marked(page, "delivery-rate") == f"{funnel['delivery_rate']:.1%}"
    assert marked(page, "read-rate") == f"{funnel['read_rate']:.1%}"
    assert marked(page, "failure-rate") == f"{funnel['failure_rate']:.1%}"
    for status, count in funnel["counts"].items():
        assert marked(page, f"count-{status}") == f"{count:,}"


async def test_the_overview_filters_by_campaign(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    page = (await client.get("/", params={"campaign": HOSTILE_CAMPAIGN})).text
    assert marked(page, "total") == "1"
    assert HOSTILE_CAMPAIGN not in page
    assert marked(page, "campaign") == HOSTILE_CAMPAIGN


async def test_a_bad_filter_is_answered_on_the_page(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    answer = await client.get("/", params={"since": "<b>yesterday</b>"})
    assert answer.status_code == 400
    assert "not a time" in marked(answer.text, "error")
    assert "<b>yesterday" not in answer.text
    reversed_range = {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}
    for path in ("/", "/dashboard/activity", "/dashboard/failures"):
        answer = await client.get(path, params=reversed_range)
        assert answer.status_code == 400, path
        assert "ends before it starts" in marked(answer.text, "error")
    for path, params in (("/dashboard/activity", {"bucket": "week"}), ("/dashboard/failures", {"by": "colour"})):
        answer = await client.get(path, params=params)
        assert answer.status_code == 400, path


async def test_a_failure_group_lists_its_failures_each_linking_to_its_message(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    page = (await client.get("/dashboard/failures", params={"by": "code"})).text
    link = re.search(r'href="(/dashboard/failures\?by=code&amp;code=[^"]+)"', page)
    assert link is not None
    listing = (await client.get(unescape(link.group(1)))).text
    messages = re.findall(r'href="/dashboard/message\?id=([^"]+)"', listing)
    assert sorted(messages) == ["m-0", "m-3", "m-4"]  # m-0's failure is listed as a contradiction
    assert "contradiction" in listing
    timeline = (await client.get("/dashboard/message", params={"id": "m-3"})).text
    assert marked(timeline, "status") == "failed"


async def test_the_message_timeline_marks_what_each_report_did(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    page = (await client.get("/dashboard/message", params={"id": "m-1"})).text
    assert re.findall(r'data-testid="outcome">(\w+)<', page) == ["applied", "applied", "late"]
    contradicted = (await client.get("/dashboard/message", params={"id": "m-0"})).text
    assert "rejected" in re.findall(r'data-testid="outcome">(\w+)<', contradicted)
    raw = re.findall(r'data-testid="raw">([^<]*)<', contradicted)
    assert [json.loads(unescape(body))["statusUpdate"]["id"] for body in raw] == ["m-0"] * 4  # each as received


async def test_an_unknown_message_is_said_plainly(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    answer = await client.get("/dashboard/message", params={"id": HOSTILE})
    assert answer.status_code == 404
    assert "<script>" not in answer.text
    assert "\\x1b[31m" in marked(answer.text, "error")


async def test_a_hostile_body_is_shown_as_text(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    page = (await client.get("/dashboard/rejections")).text
    assert "<script>" not in page
    assert "<b>bold" not in page
    assert "\x1b" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;\\x1b[31mred" in page
    failures = (await client.get("/dashboard/failures", params={"by": "campaign"})).text
    assert HOSTILE_CAMPAIGN not in failures
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in failures


async def test_rejections_are_newest_first_a_page_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'refused.db'}"
    with Ledger.open(url) as ledger:
        ledger.ingest_many([f"not json {n}".encode() for n in range(REJECTIONS_PER_PAGE + 3)])
    async with running(create_app(ServerSettings(url=url))) as client:  # no token: the pages are open
        first = (await client.get("/dashboard/rejections")).text
        ids = [int(n) for n in re.findall(r'<td class="number">(\d+)</td>', first)]
        assert ids == list(range(REJECTIONS_PER_PAGE + 3, 3, -1))
        older = re.search(r'href="([^"]+)" data-testid="older"', first)
        assert older is not None
        second = (await client.get(unescape(older.group(1)))).text
        assert [int(n) for n in re.findall(r'<td class="number">(\d+)</td>', second)] == [3, 2, 1]
        assert 'data-testid="older"' not in second


async def test_activity_shows_the_apis_buckets(client: httpx.AsyncClient) -> None:
    await signed_in(client)
    buckets = (await client.get("/reports/activity", params={"bucket": "day"}, headers=AUTH)).json()
    page = (await client.get("/dashboard/activity", params={"bucket": "day"})).text
    table = text_of(page.split('data-testid="activity"', 1)[1].split("</table>", 1)[0])
    for bucket in buckets:
        assert bucket["start"][:10] in table
    failures = sum(sum(bucket["failures"].values()) for bucket in buckets)
    assert failures == 2  # the contradiction is not a failure of the report
    assert "<svg" in page


async def test_the_pages_can_be_turned_off_for_a_host_with_its_own_root(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    async with running(create_app(ServerSettings(url=url, dashboard=False))) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/dashboard/rejections")).status_code == 404
