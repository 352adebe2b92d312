"""The OpenAPI pages of both running services work offline: they load nothing from another
host, and everything they load is served by the service itself."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from pos_devstack.openapi import path_of
from pos_devstack.stack import CartProcess, MasterDataProcess

_EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+")
_LOADED = re.compile(
    r"""(?:src|href)=["']([^"']+)["']|(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']"""
)


@pytest.fixture(params=["cart", "master-data"])
def base_url(
    request: pytest.FixtureRequest, cart_http: CartProcess, master_data: MasterDataProcess
) -> str:
    return cart_http.url if request.param == "cart" else master_data.url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_pages_load_nothing_from_elsewhere(base_url: str, page: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        html = await client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert not _EXTERNAL.findall(html.text), _EXTERNAL.findall(html.text)
        loaded = [a or b for a, b in _LOADED.findall(html.text)]
        assert "/openapi.json" in loaded
        assert any(url.endswith(".js") for url in loaded)
        for url in loaded:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url


async def test_the_served_documents_are_the_committed_ones(
    cart_http: CartProcess, master_data: MasterDataProcess
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service, url in (("cart", cart_http.url), ("master-data", master_data.url)):
            served = (await client.get(f"{url}/openapi.json")).json()
            assert served == json.loads(path_of(service).read_text()), service
