"""The OpenAPI pages (Swagger UI at /docs, ReDoc at /redoc) served from assets installed with
the service, not from a CDN: on a store network without the internet they still show.

The assets come from the fastapi-offline package (PyPI), which ships Swagger UI and ReDoc's
bundles; FastAPI's own page builders point at them. DOCS_ENABLED (pos_commons.exposure)
decides whether the pages, and /openapi.json, exist at all.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"


def install_docs_pages(app: FastAPI) -> None:
    """/docs and /redoc, and the assets they load, on `app` (which serves /openapi.json)."""
    openapi_url = app.openapi_url
    assert openapi_url is not None, "the pages need the app's /openapi.json"
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            # Authorize stays filled in while the page is open ("Try it out" on cart needs
            # the terminal's X-API-Key on every call).
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
