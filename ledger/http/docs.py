"""The interactive API docs, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served without a CDN.

Part of the HTTP shell (:mod:`ledger.http`).  FastAPI's own docs pages load their JavaScript
and CSS from jsDelivr, so they are blank wherever the server (or the reader) has no internet.
These pages load the same libraries from the package instead: ``ledger/http/static/`` holds
pinned copies (each directory's ``VERSIONS`` names the npm package, its version, its tarball
and each file's sha256; ``scripts/vendor-docs-assets.sh`` fetches them again), served at
:data:`STATIC_PATH`.  Only :func:`~ledger.http.create_app`'s application has them: a host that
includes the receiver's router keeps its own docs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

#: Where the vendored assets are served.
STATIC_PATH = "/static/docs"
SWAGGER_JS = f"{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC_PATH}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{STATIC_PATH}/redoc/redoc.standalone.js"
FAVICON = f"{STATIC_PATH}/swagger-ui/favicon-32x32.png"

# Swagger UI's default validatorUrl shows a badge fetched from validator.swagger.io: off, so
# the page asks nothing of any server but this one.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the assets and both pages, for ``app``'s OpenAPI document; nothing if it has none.

    ``app`` is made with ``docs_url=None, redoc_url=None``, so FastAPI adds no CDN pages of its own.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    title = app.title

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(redoc_url, redoc, methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PATH, StaticFiles(packages=[("ledger.http", "static")]), name="docs-static")
