"""Fixtures for the browser tests: headless Chromium driven by Playwright, and a real ``ledger serve``.

The browser is Debian's Chromium (``/usr/bin/chromium``, or ``LEDGER_CHROMIUM``), never one
Playwright downloads.  Without it the tests are skipped with the reason, or fail when
``LEDGER_REQUIRE_BROWSER=1`` (CI: ``.ci/run`` installs it), as the PostgreSQL tests do with
``LEDGER_REQUIRE_POSTGRES``.  ``served`` is one server for the session, on a small demo
ledger; ``browser`` is one Chromium for all the browser tests; ``page`` is a new context and
page per test, its relative URLs resolved against the server; ``offsite_requests`` cuts the
page off from every other origin and lists what it tried.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.servers import SECRET, TOKEN, Server, free_port, wait_until_up

DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: The demo ledger's size: every view has rows, and it is made in about a second.
DEMO_MESSAGES = 300
#: How long a browser action or expectation waits (ms) before it fails, rather than Playwright's 30 s.
TIMEOUT_MS = 15_000
STOP_DEADLINE = 30.0


@dataclass(frozen=True, slots=True)
class Served:
    """A running ``ledger serve``: where it answers, the API token its reads need, its database."""

    base_url: str
    token: str
    db_url: str


def chromium() -> str:
    """The Chromium to drive, or the reason there is none."""
    path = os.environ.get("LEDGER_CHROMIUM") or DEFAULT_CHROMIUM
    if not os.access(path, os.X_OK):
        problem = f"no Chromium at {path} (apt-get install chromium, or set LEDGER_CHROMIUM)"
        if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem}; LEDGER_REQUIRE_BROWSER=1 says these tests must run")
        pytest.skip(f"{problem}; the browser tests need it")
    return path


# Package scope, where a session would do: between its calls Playwright's sync API leaves its
# event loop marked as running in this thread, and every asyncio test after it would fail
# ("Cannot run the event loop while another loop is running").  So Playwright stops once the
# last test of tests/browser has run; each run of the browser tests still starts Chromium once.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the browser tests (one launch for all of them)."""
    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``ledger serve`` on a free loopback port, over a demo ledger of :data:`DEMO_MESSAGES` messages."""
    directory = tmp_path_factory.mktemp("served")
    db_url = f"sqlite:///{directory / 'demo.db'}"
    demo = [sys.executable, "-m", "ledger.cli", "demo", "--db", db_url, "--fresh", "--messages", str(DEMO_MESSAGES)]
    made = subprocess.run(demo, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, f"ledger demo failed:\n{made.stderr}"
    port = free_port()
    log = directory / "serve.log"
    env = {**os.environ, "LEDGER_WEBHOOK_SECRET": SECRET, "LEDGER_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port), "--db", db_url, "--no-access-log"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        server = Server(f"http://127.0.0.1:{port}")
        try:
            wait_until_up(server, process, log)
            yield Served(base_url=server.base_url, token=TOKEN, db_url=db_url)
        finally:
            server.http.close()
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within :data:`STOP_DEADLINE` seconds."""
    process.terminate()
    try:
        process.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """A page in a new browser context; ``page.goto("/docs")`` goes to the served receiver."""
    context = browser.new_context(base_url=served.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def offsite_requests(page: Page, served: Served) -> list[str]:
    """The URLs ``page`` tried to load from anywhere but the served receiver; each was aborted."""
    attempted: list[str] = []
    origin = served.base_url + "/"

    def confine(route: Route) -> None:
        url = route.request.url
        if url == served.base_url or url.startswith(origin):
            route.continue_()
        else:
            attempted.append(url)
            route.abort("blockedbyclient")

    page.context.route("**/*", confine)
    return attempted
