"""The API docs pages, /docs (Swagger UI) and /redoc (ReDoc), need no CDN: every script,
stylesheet and icon they reference is served by the receiver itself, from the package, with
its content type; the vendored files are the ones their VERSIONS file names.
(tests/browser renders both pages in Chromium with every other origin cut off.)
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi import FastAPI

from ledger.http import Receiver, ServerSettings, create_app
from tests.asgi import running

pytestmark = pytest.mark.anyio

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """The URLs a page loads: every ``src``, and ``href`` of a ``link``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (name == "src" or (tag == "link" and name == "href")):
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(ServerSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}", api_token="token"))


@pytest.mark.parametrize(("path", "expected"), [("/docs", 3), ("/redoc", 2)])
async def test_each_docs_page_loads_its_assets_from_this_server_with_their_content_types(
    app: FastAPI, path: str, expected: int
) -> None:
    async with running(app) as client:
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://|//[a-z]", page.text, re.IGNORECASE)
        urls = references(page.text)
        assert len(urls) == expected  # Swagger UI: its CSS, the icon and its script; ReDoc: the icon and its script.
        assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
        for url in urls:
            assert url.startswith("/static/docs/")
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] == CONTENT_TYPES[Path(url).suffix]
            assert len(asset.content) > 500


async def test_the_docs_pages_need_no_token_and_are_not_in_the_openapi_document(app: FastAPI) -> None:
    async with running(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert (await client.get("/messages")).status_code == 401  # the token guards the reads
        assert (await client.get("/redoc")).status_code == 200
    assert not [path for path in paths if path.startswith(("/docs", "/redoc", "/static"))]


async def test_an_unknown_asset_is_a_problem_not_a_file_from_elsewhere(app: FastAPI) -> None:
    async with running(app) as client:
        for path in ("/static/docs/nothing.js", "/static/docs/../app.py", "/static/docs/%2e%2e/docs.py"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"


def test_a_host_that_includes_the_receivers_router_gets_no_docs_pages_from_it(tmp_path: Path) -> None:
    receiver = Receiver(ServerSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    paths = {getattr(route, "path", "") for route in receiver.router.routes}
    assert not {path for path in paths if path.startswith(("/docs", "/redoc", "/static"))}


@pytest.mark.parametrize("package", ["swagger-ui", "redoc"])
def test_the_vendored_files_are_those_their_versions_file_names(package: str) -> None:
    directory = files("ledger.http") / "static" / package
    versions = (directory / "VERSIONS").read_text()
    rows = [line.split() for line in versions.splitlines() if re.fullmatch(r"[0-9a-f]{64}  \S+", line)]
    listed = {name: sha256 for sha256, name in rows}
    assert "LICENSE" in listed
    assert {entry.name for entry in directory.iterdir()} == {*listed, "VERSIONS"}
    for name, sha256 in listed.items():
        content = (directory / name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == sha256, name
        # ReDoc's bundle loaded a logo from its CDN until the vendoring script emptied that URL.
        assert not re.search(rb"//(cdn|fonts|unpkg)\.|jsdelivr", content), name
