"""The dashboard in a real browser, against a real ``ledger serve`` on a demo ledger: signing in,
every page drawn from this server alone and without a script error, the numbers shown equal the
API's, a click from a failure to its message's timeline, and a hostile body shown as text.

``LEDGER_SCREENSHOTS=DIR`` also saves a screenshot of each page there (``make screenshots``
writes the ones in docs/screenshots).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, sign
from tests.browser.conftest import Served
from tests.servers import SECRET

HOSTILE = "<script>window.hacked = 1</script><b>bold</b>\x1b[31mred"
PAGES = {
    "overview": "/",
    "over-time": "/dashboard/activity?bucket=hour",
    "failures": "/dashboard/failures?by=code",
    "rejections": "/dashboard/rejections",
}

pytestmark = pytest.mark.browser


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    """The served receiver's JSON API, with its token."""
    headers = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def signed_in(page: Page, served: Served, offsite_requests: list[str]) -> Page:
    """``page``, signed in through the form (cut off from other origins, as every page must work)."""
    page.goto("/")
    expect(page).to_have_url(f"{served.base_url}/dashboard/login?next=%2F")
    page.fill("#token", served.token)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served.base_url}/")
    return page


def test_a_wrong_token_is_refused_and_the_token_never_reaches_a_url(page: Page, served: Served) -> None:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.goto("/dashboard/rejections")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not this server's API token")
    page.fill("#token", served.token)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served.base_url}/dashboard/rejections")
    assert not any(served.token in url or "not-the-token" in url for url in seen)
    cookies = page.context.cookies()
    assert [cookie["httpOnly"] for cookie in cookies] == [True]
    assert served.token not in cookies[0]["value"]


def test_every_page_is_drawn_from_this_server_alone(signed_in: Page, offsite_requests: list[str]) -> None:
    errors: list[str] = []
    signed_in.on("pageerror", lambda error: errors.append(str(error)))
    signed_in.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    for name, path in PAGES.items():
        signed_in.goto(path)
        expect(signed_in.locator("h1").first).to_be_visible()
        assert signed_in.locator("script").count() == 0, name
        _screenshot(signed_in, name)
    assert offsite_requests == []
    assert errors == []


def test_the_overview_shows_the_apis_numbers(signed_in: Page, api: httpx.Client) -> None:
    funnel = api.get("/reports/summary").json()[0]
    signed_in.reload()
    expect(signed_in.get_by_test_id("total")).to_have_text(f"{funnel['total']:,}")
    expect(signed_in.get_by_test_id("delivery-rate")).to_have_text(f"{funnel['delivery_rate']:.1%}")
    expect(signed_in.get_by_test_id("read-rate")).to_have_text(f"{funnel['read_rate']:.1%}")
    expect(signed_in.get_by_test_id("failure-rate")).to_have_text(f"{funnel['failure_rate']:.1%}")
    for status, count in funnel["counts"].items():
        expect(signed_in.get_by_test_id(f"count-{status}")).to_have_text(f"{count:,}")
    campaign = max(api.get("/reports/summary?by=campaign").json(), key=lambda row: row["total"])
    signed_in.select_option("select[name=campaign]", campaign["key"])
    signed_in.get_by_role("button", name="Show").click()
    expect(signed_in.get_by_test_id("total")).to_have_text(f"{campaign['total']:,}")


def test_a_click_leads_from_a_failure_to_its_messages_timeline(signed_in: Page, api: httpx.Client) -> None:
    biggest = api.get("/reports/failures?by=code").json()[0]
    signed_in.goto("/dashboard/failures?by=code")
    signed_in.get_by_role("link", name=biggest["key"], exact=True).click()
    listing = signed_in.get_by_test_id("failure-list")
    expect(listing.locator("tbody tr")).to_have_count(biggest["count"] + biggest["conflicts"])
    first = listing.locator("tbody tr a").first
    message_id = first.inner_text()
    first.click()
    expect(signed_in.get_by_test_id("message")).to_contain_text(message_id)
    view = api.get(f"/messages/{message_id}").json()
    expect(signed_in.get_by_test_id("status")).to_have_text(view["status"])
    history = api.get(f"/messages/{message_id}/history").json()
    expect(signed_in.get_by_test_id("timeline").locator("tbody tr")).to_have_count(len(history))
    _screenshot(signed_in, "message")


def test_a_hostile_body_is_shown_as_text(signed_in: Page, api: httpx.Client) -> None:
    body = HOSTILE.encode()
    answer = api.post(WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})
    assert answer.status_code == 400  # malformed: refused, and kept in the rejection store
    signed_in.goto("/dashboard/rejections")
    row = signed_in.get_by_test_id("rejections").locator("tbody tr").first
    row.locator("summary").click()
    shown = row.locator("pre").inner_text()
    assert shown == "<script>window.hacked = 1</script><b>bold</b>\\x1b[31mred"
    assert signed_in.evaluate("typeof window.hacked") == "undefined"
    assert row.locator("b").count() == 0
    _screenshot(signed_in, "rejections")


def _screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("LEDGER_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
