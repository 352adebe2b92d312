"""cart and master-data running as real processes, each with its own admin token: nothing cart
holds (its admin token, the service token it presents to master-data) writes master-data's
catalog, while master-data's own admin token does; and master-data's admin token is no key to
cart's terminal API either.

What each process holds is read from the running process itself (/proc/<pid>/environ), not
from the fixture that started it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from pos_devstack.stack import CartProcess, MasterDataProcess
from tests.support import error_code

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(entry.split("=", 1) for entry in raw.split("\0") if "=" in entry)


def _writes(tenant: str) -> list[tuple[str, str, dict[str, object]]]:
    """Administrative writes of master-data's API: catalog, prices, payment methods, tenants."""
    base = f"/api/v1/tenants/{tenant}"
    return [
        ("POST", f"{base}/categories", {"categoryCode": "PRIV", "name": "Never by cart"}),
        ("PATCH", f"{base}/items/ITEM0001", {"unitPrice": "0.01"}),
        (
            "POST",
            f"{base}/paymentMethods",
            {
                "paymentCode": "FREE",
                "name": "Free",
                "canGiveChange": True,
                "canExceedBalance": True,
            },
        ),
        ("POST", "/api/v1/tenants", {"tenantId": f"p{uuid.uuid4().hex[:12]}", "name": "Never"}),
    ]


async def test_nothing_cart_holds_writes_master_datas_catalog(
    master_data: MasterDataProcess, cart_http: CartProcess, tenant: str
) -> None:
    cart_env = _environment(cart_http.process.pid)
    master_env = _environment(master_data.process.pid)
    cart_admin, cart_service = cart_env["ADMIN_TOKEN"], cart_env["SERVICE_TOKEN"]
    master_admin = master_env["ADMIN_TOKEN"]
    assert cart_admin != master_admin, "cart runs with master-data's admin token"
    assert master_admin not in cart_env.values(), "master-data's admin token is in cart's env"

    async with httpx.AsyncClient(base_url=master_data.url, timeout=10) as client:
        for method, path, body in _writes(tenant):
            as_cart = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {cart_admin}"}
            )
            assert error_code(as_cart, 401) == "INVALID_TOKEN", (method, path)
            as_service = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {cart_service}"}
            )
            assert error_code(as_service, 403) == "ADMIN_REQUIRED", (method, path)
        # Nothing was written by the refused calls...
        reader = {"Authorization": f"Bearer {cart_service}"}
        missing = await client.get(f"/api/v1/tenants/{tenant}/categories/PRIV", headers=reader)
        assert error_code(missing, 404) == "CATEGORY_NOT_FOUND"
        # ...while master-data's own admin token passes the same checks.
        admin = {"Authorization": f"Bearer {master_admin}"}
        answers = [
            await client.request(method, path, json=body, headers=admin)
            for method, path, body in _writes(tenant)
        ]
        assert [a.status_code for a in answers] == [201, 404, 201, 201], [a.text for a in answers]
        assert error_code(answers[1], 404) == "ITEM_NOT_FOUND"  # past the token: no such item


async def test_master_datas_admin_token_opens_nothing_at_cart(
    master_data: MasterDataProcess, cart_http: CartProcess, tenant: str
) -> None:
    master_admin = _environment(master_data.process.pid)["ADMIN_TOKEN"]
    cart_admin = _environment(cart_http.process.pid)["ADMIN_TOKEN"]
    body = {"tenantId": tenant, "storeCode": "S001", "terminalNo": 1}
    async with httpx.AsyncClient(base_url=cart_http.url, timeout=10) as client:
        refused = await client.post(
            "/api/v1/terminals", json=body, headers={"Authorization": f"Bearer {master_admin}"}
        )
        assert error_code(refused, 401) == "INVALID_TOKEN"
        created = await client.post(
            "/api/v1/terminals", json=body, headers={"Authorization": f"Bearer {cart_admin}"}
        )
        assert created.status_code == 201, created.text
