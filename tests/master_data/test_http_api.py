"""master-data's HTTP API against the real server and the real MongoDB protocol."""

from __future__ import annotations

import httpx
import pytest

from pos_devstack.seed import DemoCatalog
from tests.support import data, error_code


async def _setup_catalog(admin: httpx.AsyncClient, tenant: str) -> None:
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/stores", json={"storeCode": "S1", "name": "One"}), 201)
    data(await admin.post(f"{base}/categories", json={"categoryCode": "C1", "name": "Cat"}), 201)
    item = {
        "itemCode": "I1",
        "description": "Item one",
        "shortDescription": "one",
        "unitPrice": "12.345",
        "categoryCode": "C1",
        "taxCode": "STD",
    }
    data(await admin.post(f"{base}/items", json=item), 201)


async def test_health_and_ready(anonymous: httpx.AsyncClient) -> None:
    health = data(await anonymous.get("/health"))
    assert health["status"] == "ok"
    assert health["catalogFeed"]["reader"] == "up"
    assert health["catalogFeed"]["subscribers"] >= 0
    assert data(await anonymous.get("/ready"))["mongodb"] == "ok"


async def test_tenant_bootstrap_seeds_default_tax_rules(
    admin: httpx.AsyncClient, tenant: str
) -> None:
    rules = data(await admin.get(f"/api/v1/tenants/{tenant}/taxRules"))
    by_code = {rule["taxCode"]: rule for rule in rules}
    assert set(by_code) == {"STD", "RED", "INC", "EXM"}
    assert by_code["INC"]["taxType"] == "internal"
    assert by_code["RED"]["rate"] == "8"
    assert data(await admin.get(f"/api/v1/tenants/{tenant}"))["tenantId"] == tenant


async def test_tenants_are_listed_for_the_admin_only(
    admin: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str
) -> None:
    listed = data(await admin.get("/api/v1/tenants"))
    assert tenant in [t["tenantId"] for t in listed]
    assert error_code(await reader.get("/api/v1/tenants"), 403) == "ADMIN_REQUIRED"


async def test_items_filter_by_category(admin: httpx.AsyncClient, tenant: str) -> None:
    await _setup_catalog(admin, tenant)
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/categories", json={"categoryCode": "C2", "name": "Two"}), 201)
    item = {"itemCode": "I2", "description": "Two", "unitPrice": "2", "categoryCode": "C2",
            "taxCode": "EXM"}  # fmt: skip
    data(await admin.post(f"{base}/items", json=item), 201)
    in_c2 = data(await admin.get(f"{base}/items", params={"categoryCode": "C2"}))
    assert [i["itemCode"] for i in in_c2] == ["I2"]
    assert len(data(await admin.get(f"{base}/items"))) == 2
    bad = await admin.get(f"{base}/items", params={"categoryCode": "bad code"})
    assert error_code(bad, 422) == "VALIDATION_FAILED"


async def test_tenant_errors(admin: httpx.AsyncClient, tenant: str) -> None:
    duplicate = await admin.post("/api/v1/tenants", json={"tenantId": tenant, "name": "Again"})
    assert error_code(duplicate, 409) == "TENANT_EXISTS"
    malformed = await admin.post("/api/v1/tenants", json={"tenantId": "Bad Id!", "name": "x"})
    assert error_code(malformed, 422) == "VALIDATION_FAILED"
    assert error_code(await admin.get("/api/v1/tenants/nosuchtenant"), 404) == "TENANT_NOT_FOUND"
    # A malformed identifier in a path answers the item lookups' codes (identifiers.py).
    malformed_code = await admin.get(f"/api/v1/tenants/{tenant}/items/bad%20code")
    assert error_code(malformed_code, 422) == "INVALID_CODE"
    malformed_store = await admin.get(f"/api/v1/tenants/{tenant}/stores/bad%20store/prices")
    assert error_code(malformed_store, 422) == "INVALID_CODE"
    assert (
        error_code(await admin.get("/api/v1/tenants/nosuchtenant/items"), 404) == "TENANT_NOT_FOUND"
    )
    assert error_code(await admin.get("/api/v1/tenants/BAD!/items"), 422) == "INVALID_TENANT_ID"


async def test_tokens(anonymous: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str) -> None:
    path = f"/api/v1/tenants/{tenant}/categories"
    missing = await anonymous.get(path)
    assert error_code(missing, 401) == "AUTH_REQUIRED"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await anonymous.get(path, headers={"Authorization": "Bearer not-the-token"})
    assert error_code(wrong, 401) == "INVALID_TOKEN"
    not_bearer = await anonymous.get(path, headers={"Authorization": "Basic abc"})
    assert error_code(not_bearer, 401) == "AUTH_REQUIRED"
    assert data(await reader.get(path)) == []
    write = await reader.post(path, json={"categoryCode": "C9", "name": "x"})
    assert error_code(write, 403) == "ADMIN_REQUIRED"
    assert error_code(await anonymous.post("/api/v1/tenants", json={}), 401) == "AUTH_REQUIRED"


RECORD_TYPES = [
    (
        "stores",
        {"storeCode": "S9", "name": "Nine"},
        {"name": "Nine renamed", "isActive": False},
        "STORE",
    ),
    (
        "categories",
        {"categoryCode": "C9", "name": "Nine", "description": "d"},
        {"description": "changed"},
        "CATEGORY",
    ),
    (
        "taxRules",
        {"taxCode": "T9", "name": "Nine", "taxType": "external", "rate": "7.5",
         "roundingDigits": 0, "roundingMethod": "down"},
        {"rate": "9.25", "roundingMethod": "halfEven"},
        "TAX_RULE",
    ),
    (
        "paymentMethods",
        {"paymentCode": "P9", "name": "Nine", "canGiveChange": False, "canExceedBalance": False},
        {"isActive": False, "canExceedBalance": True},
        "PAYMENT_METHOD",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("path", "create", "patch", "code"), RECORD_TYPES)
async def test_record_lifecycle(
    admin: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    tenant: str,
    path: str,
    create: dict[str, object],
    patch: dict[str, object],
    code: str,
) -> None:
    base = f"/api/v1/tenants/{tenant}/{path}"
    key = next(iter(create.values()))
    created = data(await admin.post(base, json=create), 201)
    assert {k: created[k] for k in create} == create
    assert created["createdAt"] == created["updatedAt"]
    assert error_code(await admin.post(base, json=create), 409) == f"{code}_EXISTS"
    assert data(await reader.get(f"{base}/{key}")) == created
    updated = data(await admin.patch(f"{base}/{key}", json=patch))
    assert {k: updated[k] for k in patch} == patch
    assert updated["updatedAt"] >= created["updatedAt"]
    assert error_code(await admin.patch(f"{base}/{key}", json={}), 422) == "VALIDATION_FAILED"
    nulls = await admin.patch(f"{base}/{key}", json=dict.fromkeys(patch))
    assert error_code(nulls, 422) == "VALIDATION_FAILED"
    unknown_field = await admin.patch(f"{base}/{key}", json={"bogus": 1})
    assert error_code(unknown_field, 422) == "VALIDATION_FAILED"
    assert error_code(await reader.get(f"{base}/NOPE"), 404) == f"{code}_NOT_FOUND"
    assert error_code(await admin.patch(f"{base}/NOPE", json=patch), 404) == f"{code}_NOT_FOUND"
    assert (await admin.delete(f"{base}/{key}")).status_code == 204
    assert error_code(await reader.get(f"{base}/{key}"), 404) == f"{code}_NOT_FOUND"
    assert error_code(await admin.delete(f"{base}/{key}"), 404) == f"{code}_NOT_FOUND"


async def test_pagination(admin: httpx.AsyncClient, tenant: str) -> None:
    base = f"/api/v1/tenants/{tenant}/categories"
    for number in range(7):
        data(await admin.post(base, json={"categoryCode": f"C{number}", "name": "n"}), 201)
    response = await admin.get(base, params={"page": 2, "limit": 3})
    body = response.json()
    assert body["meta"] == {"page": 2, "limit": 3, "total": 7}
    assert [c["categoryCode"] for c in body["data"]] == ["C3", "C4", "C5"]
    assert data(await admin.get(base, params={"page": 4, "limit": 3})) == []
    too_big = await admin.get(base, params={"limit": 1000})
    assert error_code(too_big, 422) == "VALIDATION_FAILED"
    assert error_code(await admin.get(base, params={"page": 0}), 422) == "VALIDATION_FAILED"


async def test_item_validation(admin: httpx.AsyncClient, tenant: str) -> None:
    await _setup_catalog(admin, tenant)
    base = f"/api/v1/tenants/{tenant}/items"
    good = {
        "itemCode": "I2",
        "description": "Two",
        "unitPrice": "1.00",
        "categoryCode": "C1",
        "taxCode": "STD",
    }
    cases = {
        "UNKNOWN_CATEGORY": ({**good, "categoryCode": "NOPE"}, 422),
        "UNKNOWN_TAX_CODE": ({**good, "taxCode": "NOPE"}, 422),
        "VALIDATION_FAILED": ({**good, "unitPrice": 1.5}, 422),
    }
    for expected, (body, status) in cases.items():
        assert error_code(await admin.post(base, json=body), status) == expected
    for bad in ("-1", "1.1234567", "abc", "NaN", True, None):
        response = await admin.post(base, json={**good, "unitPrice": bad})
        assert error_code(response, 422) == "VALIDATION_FAILED", bad
    for bad_code in ("", "has space", "x" * 65, "semi;colon"):
        response = await admin.post(base, json={**good, "itemCode": bad_code})
        assert error_code(response, 422) == "VALIDATION_FAILED", bad_code
    missing = {k: v for k, v in good.items() if k != "description"}
    assert error_code(await admin.post(base, json=missing), 422) == "VALIDATION_FAILED"
    malformed = await admin.post(
        base, content=b'{"itemCode": ', headers={"content-type": "application/json"}
    )
    assert error_code(malformed, 400) == "MALFORMED_JSON"
    assert error_code(await admin.post(base, json=[1, 2]), 422) == "VALIDATION_FAILED"
    bad_patch = await admin.patch(f"{base}/I1", json={"categoryCode": "NOPE"})
    assert error_code(bad_patch, 422) == "UNKNOWN_CATEGORY"


async def test_item_soft_and_hard_delete(admin: httpx.AsyncClient, tenant: str) -> None:
    await _setup_catalog(admin, tenant)
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/stores/S1/prices", json={"itemCode": "I1", "price": "1"}), 201)
    assert (await admin.delete(f"{base}/items/I1")).status_code == 204
    assert data(await admin.get(f"{base}/items/I1"))["isDeleted"] is True
    assert data(await admin.get(f"{base}/items")) == []
    listed = data(await admin.get(f"{base}/items", params={"includeDeleted": "true"}))
    assert [item["itemCode"] for item in listed] == ["I1"]
    detail = data(await admin.get(f"{base}/stores/S1/itemDetails/I1"))
    assert detail["isDeleted"] is True
    recreate = await admin.post(
        f"{base}/items",
        json={"itemCode": "I1", "description": "x", "unitPrice": "1", "categoryCode": "C1",
              "taxCode": "STD"},
    )  # fmt: skip
    assert error_code(recreate, 409) == "ITEM_EXISTS"
    assert (await admin.delete(f"{base}/items/I1", params={"purge": "true"})).status_code == 204
    assert error_code(await admin.get(f"{base}/items/I1"), 404) == "ITEM_NOT_FOUND"
    gone = await admin.get(f"{base}/stores/S1/prices/I1")
    assert error_code(gone, 404) == "STORE_PRICE_NOT_FOUND"


async def test_in_use_records_cannot_be_deleted(admin: httpx.AsyncClient, tenant: str) -> None:
    await _setup_catalog(admin, tenant)
    base = f"/api/v1/tenants/{tenant}"
    assert error_code(await admin.delete(f"{base}/categories/C1"), 409) == "CATEGORY_IN_USE"
    assert error_code(await admin.delete(f"{base}/taxRules/STD"), 409) == "TAX_RULE_IN_USE"
    assert (await admin.delete(f"{base}/taxRules/RED")).status_code == 204


async def test_store_prices(
    admin: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str
) -> None:
    await _setup_catalog(admin, tenant)
    base = f"/api/v1/tenants/{tenant}/stores"
    detail_path = f"{base}/S1/itemDetails/I1"
    before = data(await reader.get(detail_path))
    assert before["storePrice"] is None
    assert before["effectivePrice"] == before["unitPrice"] == "12.345"

    zero = data(await admin.post(f"{base}/S1/prices", json={"itemCode": "I1", "price": "0"}), 201)
    assert zero["price"] == "0"
    detail = data(await reader.get(detail_path))
    assert (detail["storePrice"], detail["effectivePrice"]) == ("0", "0")

    again = await admin.post(f"{base}/S1/prices", json={"itemCode": "I1", "price": "2"})
    assert error_code(again, 409) == "STORE_PRICE_EXISTS"
    no_store = await admin.post(f"{base}/S404/prices", json={"itemCode": "I1", "price": "2"})
    assert error_code(no_store, 404) == "STORE_NOT_FOUND"
    no_item = await admin.post(f"{base}/S1/prices", json={"itemCode": "I404", "price": "2"})
    assert error_code(no_item, 404) == "ITEM_NOT_FOUND"
    negative = await admin.post(f"{base}/S1/prices", json={"itemCode": "I1", "price": "-2"})
    assert error_code(negative, 422) == "VALIDATION_FAILED"

    data(await admin.patch(f"{base}/S1/prices/I1", json={"price": "9.99"}))
    assert data(await reader.get(detail_path))["effectivePrice"] == "9.99"
    listed = await reader.get(f"{base}/S1/prices")
    assert listed.json()["meta"]["total"] == 1
    assert error_code(await reader.get(f"{base}/S404/prices"), 404) == "STORE_NOT_FOUND"

    assert (await admin.delete(f"{base}/S1/prices/I1")).status_code == 204
    after = data(await reader.get(detail_path))
    assert (after["storePrice"], after["effectivePrice"]) == (None, "12.345")


async def test_item_details(reader: httpx.AsyncClient, demo: DemoCatalog) -> None:
    base = f"/api/v1/tenants/{demo.tenant_id}/stores/S001/itemDetails"
    zero = data(await reader.get(f"{base}/ITEM0005"))
    assert zero["storePrice"] == "0"
    assert zero["effectivePrice"] == "0"
    assert set(zero["taxRule"]) == {
        "taxCode", "name", "taxType", "rate", "roundingDigits", "roundingMethod"
    }  # fmt: skip
    batch = data(await reader.get(base, params={"codes": "ITEM0003,NOPE1,ITEM0001,ITEM0003"}))
    assert [item["itemCode"] for item in batch["items"]] == ["ITEM0003", "ITEM0001"]
    assert batch["notFoundItemCodes"] == ["NOPE1"]
    assert error_code(await reader.get(f"{base}/NOPE"), 404) == "ITEM_NOT_FOUND"
    unknown_store = f"/api/v1/tenants/{demo.tenant_id}/stores/S404/itemDetails/ITEM0001"
    assert error_code(await reader.get(unknown_store), 404) == "STORE_NOT_FOUND"
    unknown_tenant = "/api/v1/tenants/nosuch/stores/S001/itemDetails/ITEM0001"
    assert error_code(await reader.get(unknown_tenant), 404) == "TENANT_NOT_FOUND"
    too_many = ",".join(f"X{n}" for n in range(101))
    assert (
        error_code(await reader.get(base, params={"codes": too_many}), 422) == "INVALID_BATCH_SIZE"
    )
    assert error_code(await reader.get(base, params={"codes": ","}), 422) == "INVALID_BATCH_SIZE"
    assert error_code(await reader.get(base, params={"codes": "A,b c"}), 422) == "INVALID_CODE"
    assert error_code(await reader.get(base), 422) == "INVALID_BATCH_SIZE"
    malformed_tenant = "/api/v1/tenants/Bad!/stores/S001/itemDetails/ITEM0001"
    assert error_code(await reader.get(malformed_tenant), 422) == "INVALID_TENANT_ID"
    malformed_item = f"{base}/bad%20code"
    assert error_code(await reader.get(malformed_item), 422) == "INVALID_CODE"
    anonymous = await reader.get(f"{base}/ITEM0001", headers={"Authorization": ""})
    assert error_code(anonymous, 401) == "AUTH_REQUIRED"


async def test_openapi_documents_every_route(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    paths = schema["paths"]
    assert "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails/{item_code}" in paths
    assert "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails" in paths
    assert "/api/v1/tenants/{tenant_id}/items" in paths


async def test_cache_serves_repeated_lookups_and_sees_own_writes(
    admin: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str
) -> None:
    await _setup_catalog(admin, tenant)
    path = f"/api/v1/tenants/{tenant}/stores/S1/itemDetails/I1"
    before = data(await reader.get("/api/v1/stats/cache"))
    for _ in range(5):
        data(await reader.get(path))
    after = data(await reader.get("/api/v1/stats/cache"))
    assert after["hits"] - before["hits"] >= 4
    assert after["enabled"] is True
    data(await admin.patch(f"/api/v1/tenants/{tenant}/items/I1", json={"unitPrice": "3.30"}))
    assert data(await reader.get(path))["unitPrice"] == "3.30"
    metrics = (await reader.get("/metrics")).text
    assert "item_detail_cache_hits_total" in metrics
    assert (
        'route="/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails/{item_code}"' in metrics
    )


async def test_framework_errors_use_the_envelope(admin: httpx.AsyncClient) -> None:
    assert error_code(await admin.get("/api/v1/nothing-here"), 404) == "ROUTE_NOT_FOUND"
    assert error_code(await admin.put("/api/v1/tenants"), 405) == "METHOD_NOT_ALLOWED"


async def test_request_id_is_echoed(reader: httpx.AsyncClient) -> None:
    response = await reader.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["requestId"] == "abc-123"
    unsafe = await reader.get("/health", headers={"X-Request-ID": "bad id\twith tab"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"
    assert "app;dur=" in response.headers["server-timing"]
