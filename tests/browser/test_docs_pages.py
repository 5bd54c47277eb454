"""The API docs pages render in a real browser with nothing but the receiver to load from:
Swagger UI (/docs) and ReDoc (/redoc) draw the receiver's OpenAPI document, every request to
another origin is aborted and recorded, and none is attempted (the no-CDN rule).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

TITLE = "delivery-ledger receiver"

pytestmark = pytest.mark.browser


def test_swagger_ui_draws_the_receivers_operations_from_this_server_alone(
    page: Page, offsite_requests: list[str]
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(TITLE)
    # Drawn from the document: the operations, the webhook's among them.
    expect(page.locator(".opblock-summary-path", has_text="/webhooks/connectly/delivery-status")).to_be_visible()
    assert page.locator(".opblock").count() > 5
    assert offsite_requests == []
    assert errors == []


def test_redoc_draws_the_receivers_document_from_this_server_alone(page: Page, offsite_requests: list[str]) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text(TITLE)
    # The description (Markdown) and the operations, rendered.
    expect(page.get_by_role("heading", name="Authentication")).to_be_visible()
    expect(page.get_by_text("/webhooks/connectly/delivery-status").first).to_be_attached()
    assert offsite_requests == []
    assert errors == []
