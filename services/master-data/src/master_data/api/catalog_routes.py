"""The catalog's routers: one per record type, and the item-specific list and delete."""

from typing import Annotated

from fastapi import Depends, Query

from master_data.api.deps import CodePath, LimitQuery, PageQuery, Resources, TenantPath
from master_data.api.records import READ_ANSWERS, WRITE_ANSWERS, record_router
from master_data.api.schemas import (
    CategoryCreate,
    CategoryUpdate,
    ItemCreate,
    ItemUpdate,
    PaymentMethodCreate,
    PaymentMethodUpdate,
    StoreCreate,
    StoreUpdate,
    TaxRuleCreate,
    TaxRuleUpdate,
)
from master_data.domain import Category, Item, PaymentMethod, Store, TaxRule
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import Envelope, JsonResponse, PageMeta, ok
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter
from pos_commons.validation import CODE_REGEX

stores = record_router(
    path="stores",
    key_field="store_code",
    label="store",
    service_of=lambda r: r.catalog.stores,
    create_model=StoreCreate,
    update_model=StoreUpdate,
    out_model=Store,
)
categories = record_router(
    path="categories",
    key_field="category_code",
    label="category",
    service_of=lambda r: r.catalog.categories,
    create_model=CategoryCreate,
    update_model=CategoryUpdate,
    out_model=Category,
)
tax_rules = record_router(
    path="taxRules",
    key_field="tax_code",
    label="tax rule",
    service_of=lambda r: r.catalog.tax_rules,
    create_model=TaxRuleCreate,
    update_model=TaxRuleUpdate,
    out_model=TaxRule,
)
payment_methods = record_router(
    path="paymentMethods",
    key_field="payment_code",
    label="payment method",
    service_of=lambda r: r.catalog.payment_methods,
    create_model=PaymentMethodCreate,
    update_model=PaymentMethodUpdate,
    out_model=PaymentMethod,
)
items = record_router(
    path="items",
    key_field="item_code",
    label="item",
    service_of=lambda r: r.catalog.items,
    create_model=ItemCreate,
    update_model=ItemUpdate,
    out_model=Item,
    with_list=False,
    with_delete=False,
)


@items.get(
    "/items",
    response_model=Envelope[list[Item]],
    dependencies=[Depends(require_reader)],
    summary="List items",
    responses=READ_ANSWERS,
)
async def list_items(
    tenant_id: TenantPath,
    resources: Resources,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
    category_code: Annotated[str | None, Query(alias="categoryCode", pattern=CODE_REGEX)] = None,
    include_deleted: Annotated[bool, Query(alias="includeDeleted")] = False,
) -> JsonResponse:
    where: dict[str, object] = {}
    if category_code is not None:
        where["category_code"] = category_code
    if not include_deleted:
        where["is_deleted"] = False
    records, total = await resources.catalog.items.page(tenant_id, where, page, limit)
    return ok(records, meta=PageMeta(page=page, limit=limit, total=total))


@items.delete(
    "/items/{code}",
    status_code=204,
    dependencies=[Depends(require_admin)],
    summary="Delete an item: soft by default, for good (with its store prices) with purge=true",
    responses={
        **WRITE_ANSWERS,
        **error_responses(404, s404="TENANT_NOT_FOUND or ITEM_NOT_FOUND"),
    },
)
async def delete_item(
    tenant_id: TenantPath,
    code: CodePath,
    resources: Resources,
    purge: Annotated[bool, Query(description="Delete the record for good.")] = False,
) -> None:
    if purge:
        await resources.catalog.items.delete(tenant_id, {"item_code": code})
    else:
        await resources.catalog.items.soft_delete(tenant_id, {"item_code": code})


ROUTERS: list[ServiceRouter] = [stores, categories, tax_rules, payment_methods, items]
