"""master-data's bulk import and export (/tenants/{tenantId}/bulk/{kind}) against the running
process: each row upserted by the rules of its create, each row's outcome answered, the same
rows again changing nothing, and the call's own bounds."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.support import data, error_code


def _items(count: int, *, price: str = "1.25", start: int = 0) -> list[dict[str, Any]]:
    return [
        {"itemCode": f"B{n:05d}", "description": f"Bulk item {n}", "unitPrice": price,
         "categoryCode": "BULK", "taxCode": "STD"}
        for n in range(start, start + count)
    ]  # fmt: skip


async def _import(
    admin: httpx.AsyncClient, tenant: str, kind: str, rows: list[Any], *, dry_run: bool = False
) -> dict[str, Any]:
    response = await admin.post(
        f"/api/v1/tenants/{tenant}/bulk/{kind}",
        json={"rows": rows},
        params={"dryRun": "true"} if dry_run else None,
    )
    result: dict[str, Any] = data(response)
    return result


def _counts(result: dict[str, Any]) -> tuple[int, int, int, int]:
    return (result["created"], result["updated"], result["unchanged"], result["rejected"])


async def _export(client: httpx.AsyncClient, tenant: str, kind: str, **params: str) -> list[Any]:
    response = await client.get(f"/api/v1/tenants/{tenant}/bulk/{kind}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in response.content.splitlines()]


async def test_an_import_creates_then_the_same_rows_change_nothing_and_a_change_updates(
    admin: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str
) -> None:
    category = {"categoryCode": "BULK", "name": "Bulk"}
    assert _counts(await _import(admin, tenant, "categories", [category])) == (1, 0, 0, 0)
    rows = _items(300)
    first = await _import(admin, tenant, "items", rows)
    assert _counts(first) == (300, 0, 0, 0)
    assert [row["index"] for row in first["rows"]] == list(range(300))
    assert _counts(await _import(admin, tenant, "items", rows)) == (0, 0, 300, 0)
    # 1.25 and 1.250 are one price: unchanged; a new price and a new item are not.
    respelled = [{**row, "unitPrice": "1.250"} for row in rows[:5]]
    assert _counts(await _import(admin, tenant, "items", respelled)) == (0, 0, 5, 0)
    changed = [{**rows[7], "unitPrice": "2.00"}, *_items(1, start=300)]
    result = await _import(admin, tenant, "items", changed)
    assert [row["outcome"] for row in result["rows"]] == ["updated", "created"]
    stored = data(await admin.get(f"/api/v1/tenants/{tenant}/items/B00007"))
    assert stored["unitPrice"] == "2.00"

    exported = await _export(reader, tenant, "items")
    assert [item["itemCode"] for item in exported] == [f"B{n:05d}" for n in range(301)]
    fields = set(rows[0])
    again = [{name: item[name] for name in fields} for item in exported]
    assert _counts(await _import(admin, tenant, "items", again)) == (0, 0, 301, 0)


async def test_each_bad_row_is_refused_by_the_create_s_rules_and_only_it(
    admin: httpx.AsyncClient, tenant: str
) -> None:
    await _import(admin, tenant, "categories", [{"categoryCode": "BULK", "name": "Bulk"}])
    good = _items(3)
    rows = [
        good[0],
        {**good[1], "taxCode": "NOPE"},
        {**good[2], "unitPrice": "1.2.3"},
        good[0],
        {key: value for key, value in _items(1, start=9)[0].items() if key != "description"},
        {**_items(1, start=10)[0], "categoryCode": "GONE"},
        {**_items(1, start=11)[0], "itemCode": "bad code!"},
    ]
    dry = await _import(admin, tenant, "items", rows, dry_run=True)
    assert dry["dryRun"] is True
    outcomes = [(row["outcome"], (row["error"] or {}).get("code")) for row in dry["rows"]]
    assert outcomes == [
        ("created", None),
        ("rejected", "UNKNOWN_TAX_CODE"),
        ("rejected", "VALIDATION_FAILED"),
        ("rejected", "DUPLICATE_ROW"),
        ("rejected", "VALIDATION_FAILED"),
        ("rejected", "UNKNOWN_CATEGORY"),
        ("rejected", "VALIDATION_FAILED"),
    ]
    invalid = [
        row for row in dry["rows"] if (row["error"] or {}).get("code") == "VALIDATION_FAILED"
    ]
    fields = [[f["field"] for f in row["error"]["details"]["fields"]] for row in invalid]
    assert fields == [["unitPrice"], ["description"], ["itemCode"]]
    missing = await admin.get(f"/api/v1/tenants/{tenant}/items/{good[0]['itemCode']}")
    assert error_code(missing, 404) == "ITEM_NOT_FOUND"  # the dry run wrote nothing

    done = await _import(admin, tenant, "items", rows)
    assert _counts(done) == (1, 0, 0, 6)
    assert data(await admin.get(f"/api/v1/tenants/{tenant}/items/{good[0]['itemCode']}"))


async def test_store_prices_name_their_store_and_a_soft_deleted_item_comes_back(
    admin: httpx.AsyncClient, reader: httpx.AsyncClient, tenant: str
) -> None:
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/stores", json={"storeCode": "S1", "name": "One"}), 201)
    await _import(admin, tenant, "categories", [{"categoryCode": "BULK", "name": "Bulk"}])
    items = _items(3)
    await _import(admin, tenant, "items", items)
    prices = [
        {"storeCode": "S1", "itemCode": "B00000", "price": "0"},
        {"storeCode": "S1", "itemCode": "B00001", "price": "0.99"},
        {"storeCode": "S9", "itemCode": "B00001", "price": "0.99"},
        {"storeCode": "S1", "itemCode": "NOPE", "price": "0.99"},
    ]
    result = await _import(admin, tenant, "storePrices", prices)
    assert [(row["error"] or {}).get("code") for row in result["rows"]] == [
        None, None, "STORE_NOT_FOUND", "ITEM_NOT_FOUND",
    ]  # fmt: skip
    exported = await _export(reader, tenant, "storePrices")
    assert [(p["storeCode"], p["itemCode"], p["price"]) for p in exported] == [
        ("S1", "B00000", "0"), ("S1", "B00001", "0.99"),
    ]  # fmt: skip

    assert (await admin.delete(f"{base}/items/B00002")).status_code == 204
    assert [i["itemCode"] for i in await _export(reader, tenant, "items")] == ["B00000", "B00001"]
    deleted = await _export(reader, tenant, "items", includeDeleted="true")
    assert [i["isDeleted"] for i in deleted] == [False, False, True]
    result = await _import(admin, tenant, "items", items[2:])
    assert result["rows"][0]["outcome"] == "updated"
    assert data(await admin.get(f"{base}/items/B00002"))["isDeleted"] is False


async def test_the_bulk_call_s_own_bounds_and_its_token(
    admin: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    tenant: str,
) -> None:
    path = f"/api/v1/tenants/{tenant}/bulk/items"
    too_many = await admin.post(path, json={"rows": _items(1_001)})
    assert error_code(too_many, 422) == "INVALID_BATCH_SIZE"
    assert too_many.json()["error"]["details"] == {"max": 1000, "given": 1001}
    assert error_code(await admin.post(path, json={"rows": []}), 422) == "INVALID_BATCH_SIZE"
    oversized = [{**row, "description": "x" * 200, "shortDescription": "y" * 200}
                 for row in _items(1_000)] * 3  # fmt: skip
    assert error_code(await admin.post(path, json={"rows": oversized}), 413) == "PAYLOAD_TOO_LARGE"
    not_rows = await admin.post(path, json={"rows": "items"})
    assert error_code(not_rows, 422) == "VALIDATION_FAILED"
    unknown = await admin.post(f"/api/v1/tenants/{tenant}/bulk/widgets", json={"rows": [{}]})
    assert error_code(unknown, 422) == "VALIDATION_FAILED"
    nobody = await admin.post("/api/v1/tenants/nobody/bulk/items", json={"rows": _items(1)})
    assert error_code(nobody, 404) == "TENANT_NOT_FOUND"
    assert error_code(await reader.post(path, json={"rows": _items(1)}), 403) == "ADMIN_REQUIRED"
    assert error_code(await anonymous.post(path, json={"rows": _items(1)}), 401) == "AUTH_REQUIRED"
    assert error_code(await anonymous.get(path), 401) == "AUTH_REQUIRED"
