"""A store's price overrides: /stores/{storeCode}/prices[/{itemCode}]."""

from __future__ import annotations

from fastapi import Depends

from master_data.api.deps import CodePath, LimitQuery, PageQuery, Resources, StorePath, TenantPath
from master_data.api.records import READ_ANSWERS, WRITE_ANSWERS
from master_data.api.schemas import StorePriceCreate, StorePriceUpdate
from master_data.domain import StorePrice
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import Envelope, JsonResponse, PageMeta, ok
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

MISSING_STORE = "TENANT_NOT_FOUND or STORE_NOT_FOUND"
MISSING_PRICE = f"{MISSING_STORE} or STORE_PRICE_NOT_FOUND"
router = ServiceRouter(
    prefix="/api/v1/tenants/{tenant_id}/stores/{store_code}", tags=["store price"]
)


@router.post(
    "/prices",
    status_code=201,
    response_model=Envelope[StorePrice],
    dependencies=[Depends(require_admin)],
    summary="Set a store's price for an item (0 is a price)",
    responses={
        **WRITE_ANSWERS,
        **error_responses(
            404, 409, s404=f"{MISSING_STORE} or ITEM_NOT_FOUND", s409="STORE_PRICE_EXISTS"
        ),
    },
)
async def create_store_price(
    tenant_id: TenantPath, store_code: StorePath, body: StorePriceCreate, resources: Resources
) -> JsonResponse:
    fields = {"store_code": store_code, **body.model_dump(mode="python", by_alias=False)}
    return ok(await resources.catalog.store_prices.create(tenant_id, fields), status_code=201)


@router.get(
    "/prices",
    response_model=Envelope[list[StorePrice]],
    dependencies=[Depends(require_reader)],
    summary="List a store's prices",
    responses={**READ_ANSWERS, **error_responses(404, s404=MISSING_STORE)},
)
async def list_store_prices(
    tenant_id: TenantPath,
    store_code: StorePath,
    resources: Resources,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> JsonResponse:
    records, total = await resources.catalog.store_prices.for_store(
        tenant_id, store_code, page, limit
    )
    return ok(records, meta=PageMeta(page=page, limit=limit, total=total))


@router.get(
    "/prices/{item_code}",
    response_model=Envelope[StorePrice],
    dependencies=[Depends(require_reader)],
    summary="Get a store's price for an item",
    responses={**READ_ANSWERS, **error_responses(404, s404=MISSING_PRICE)},
)
async def get_store_price(
    tenant_id: TenantPath, store_code: StorePath, item_code: CodePath, resources: Resources
) -> JsonResponse:
    key = {"store_code": store_code, "item_code": item_code}
    return ok(await resources.catalog.store_prices.get(tenant_id, key))


@router.patch(
    "/prices/{item_code}",
    response_model=Envelope[StorePrice],
    dependencies=[Depends(require_admin)],
    summary="Change a store's price for an item",
    responses={**WRITE_ANSWERS, **error_responses(404, s404=MISSING_PRICE)},
)
async def update_store_price(
    tenant_id: TenantPath,
    store_code: StorePath,
    item_code: CodePath,
    body: StorePriceUpdate,
    resources: Resources,
) -> JsonResponse:
    key = {"store_code": store_code, "item_code": item_code}
    return ok(await resources.catalog.store_prices.update(tenant_id, key, body.changes()))


@router.delete(
    "/prices/{item_code}",
    status_code=204,
    dependencies=[Depends(require_admin)],
    summary="Remove a store's price override (the item falls back to its unit price)",
    responses={**WRITE_ANSWERS, **error_responses(404, s404=MISSING_PRICE)},
)
async def delete_store_price(
    tenant_id: TenantPath, store_code: StorePath, item_code: CodePath, resources: Resources
) -> None:
    key = {"store_code": store_code, "item_code": item_code}
    await resources.catalog.store_prices.delete(tenant_id, key)
