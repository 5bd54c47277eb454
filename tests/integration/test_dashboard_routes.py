"""The dashboard's reads over HTTP, in process, on every backend: GET /reports/summary of a
campaign and time range, GET /reports/activity, GET /rejections newest first with ``before``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledger import Ledger
from ledger.http import ServerSettings, create_app
from tests.asgi import running
from tests.integration.contract import OPTED_OUT
from tests.integration.test_dashboard_queries import traffic
from tests.problems import assert_problem

TOKEN = "dashboard-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params=params, headers=AUTH)


class DashboardRoutesContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def app_url(self, url: str) -> str:
        with Ledger.open(url) as ledger:
            traffic(ledger)
            for n in range(3):
                ledger.ingest({"topic": "delivery_status", "n": n})
        return url

    async def test_the_summary_of_a_campaign_and_a_time_range(self, app_url: str) -> None:
        async with running(create_app(ServerSettings(url=app_url, api_token=TOKEN))) as client:
            [everything] = (await get(client, "/reports/summary")).json()
            [fall] = (await get(client, "/reports/summary", campaign="fall")).json()
            # Naive times are UTC: m-3 (first known 01:00) and m-4 (00:00).
            [later] = (await get(client, "/reports/summary", since="2022-01-07T00:00:00")).json()
            # 01:00+01:00 is midnight UTC: m-1 and m-2.
            [earlier] = (await get(client, "/reports/summary", until="2022-01-07T01:00:00+01:00")).json()
            refused = await get(client, "/reports/summary", since="yesterday")
        assert (everything["total"], fall["total"], fall["counts"]["failed"]) == (4, 2, 2)
        assert (later["total"], later["counts"]["delivered"], later["counts"]["failed"]) == (2, 1, 1)
        assert (earlier["total"], earlier["counts"]["read"]) == (2, 1)
        assert_problem(refused, 400, "invalid_request")

    async def test_activity_per_hour_and_per_day(self, app_url: str) -> None:
        async with running(create_app(ServerSettings(url=app_url, api_token=TOKEN))) as client:
            hourly = await get(client, "/reports/activity", bucket="hour", campaign="fall")
            daily = await get(client, "/reports/activity", since="2022-01-07T00:00:00Z")
            refused = await get(client, "/reports/activity", bucket="week")
        assert hourly.status_code == 200, hourly.text
        assert hourly.json() == [
            {
                "start": "2022-01-06T23:00:00+00:00",
                "reports": {"accepted": 1, "sent": 0, "delivered": 0, "read": 0, "failed": 1},
                "failures": {OPTED_OUT.code: 1},
            },
            {
                "start": "2022-01-07T00:00:00+00:00",
                "reports": {"accepted": 1, "sent": 0, "delivered": 0, "read": 0, "failed": 1},
                "failures": {"(none)": 1},
            },
        ]
        [day] = daily.json()
        assert (day["start"], day["reports"]["delivered"], day["reports"]["read"]) == (
            "2022-01-07T00:00:00+00:00",
            1,
            1,
        )
        assert_problem(refused, 400, "invalid_request")

    async def test_rejections_newest_first_a_page_at_a_time(self, app_url: str) -> None:
        async with running(create_app(ServerSettings(url=app_url, api_token=TOKEN))) as client:
            oldest = [r["id"] for r in (await get(client, "/rejections")).json()]
            first = [r["id"] for r in (await get(client, "/rejections", order="newest", limit=3)).json()]
            second = (await get(client, "/rejections", order="newest", limit=3, before=first[-1])).json()
            refusals = [
                await get(client, "/rejections", order="sideways"),
                await get(client, "/rejections", before=0),
                await get(client, "/rejections", before=2**63),
            ]
        assert len(oldest) == 4  # m-1's contradiction, then three malformed bodies
        assert first == oldest[::-1][:3]
        assert [r["id"] for r in second] == oldest[:1]
        assert second[0]["kind"] == "contradiction"
        for refused in refusals:
            assert_problem(refused, 400, "invalid_request")


class TestSQLite(DashboardRoutesContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(DashboardRoutesContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database
