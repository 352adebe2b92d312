"""Routes for a record type: create, get, list with pagination, update, delete.

Built by one factory so every record type behaves the same way on the wire. No
`from __future__ import annotations` here: FastAPI reads the body types from the
annotations of the closures at definition time.
"""

from collections.abc import Callable
from typing import Any, cast

from fastapi import Depends

from master_data.api.deps import (
    CacheControlHeader,
    CodePath,
    LimitQuery,
    PageQuery,
    Resources,
    TenantPath,
)
from master_data.api.schemas import PatchModel
from master_data.domain import Record
from master_data.resources import MasterDataResources
from master_data.services.catalog import RecordService
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import ApiModel, Envelope, JsonResponse, PageMeta, ok
from pos_commons.grpc_trailers import wants_fresh
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

ServiceOf = Callable[[MasterDataResources], RecordService[Any]]

# What the routes of every record type can answer, besides their own.
READ_ANSWERS = error_responses(401, 404, 422, 503, 504, s404="TENANT_NOT_FOUND")
WRITE_ANSWERS = error_responses(400, 401, 403, 404, 413, 422, 503, 504)


def record_router(
    *,
    path: str,
    key_field: str,
    label: str,
    service_of: ServiceOf,
    create_model: type[ApiModel],
    update_model: type[PatchModel],
    out_model: type[Record],
    with_list: bool = True,
    with_delete: bool = True,
) -> ServiceRouter:
    """The routes of one record type; a type with its own list or delete semantics (items)
    turns those off here and adds its own to the returned router."""
    router = ServiceRouter(prefix="/api/v1/tenants/{tenant_id}", tags=[label])
    collection = f"/{path}"
    member = f"/{path}/{{code}}"
    name = label.replace(" ", "_")  # operation ids: create_tax_rule, get_store, ...
    missing = f"TENANT_NOT_FOUND or {label.upper().replace(' ', '_')}_NOT_FOUND"

    @router.post(
        collection,
        status_code=201,
        response_model=Envelope[out_model],  # type: ignore[valid-type]
        dependencies=[Depends(require_admin)],
        summary=f"Create a {label}",
        name=f"create_{name}",
        responses={
            **WRITE_ANSWERS,
            **error_responses(409, s409=f"{label.upper().replace(' ', '_')}_EXISTS"),
        },
    )
    async def create(
        tenant_id: TenantPath,
        body: create_model,  # type: ignore[valid-type]
        resources: Resources,
    ) -> JsonResponse:
        fields = cast(ApiModel, body).model_dump(mode="python", by_alias=False)
        return ok(await service_of(resources).create(tenant_id, fields), status_code=201)

    if with_list:
        _add_list(router, collection, label, name, service_of, out_model)

    @router.get(
        member,
        response_model=Envelope[out_model],  # type: ignore[valid-type]
        dependencies=[Depends(require_reader)],
        summary=f"Get a {label}",
        name=f"get_{name}",
        responses={**READ_ANSWERS, **error_responses(404, s404=missing)},
    )
    async def get(
        tenant_id: TenantPath,
        code: CodePath,
        resources: Resources,
        cache_control: CacheControlHeader = None,
    ) -> JsonResponse:
        fresh = wants_fresh(cache_control)
        return ok(await service_of(resources).get(tenant_id, {key_field: code}, fresh=fresh))

    @router.patch(
        member,
        response_model=Envelope[out_model],  # type: ignore[valid-type]
        dependencies=[Depends(require_admin)],
        summary=f"Update a {label}",
        name=f"update_{name}",
        responses={**WRITE_ANSWERS, **error_responses(404, s404=missing)},
    )
    async def update(
        tenant_id: TenantPath,
        code: CodePath,
        body: update_model,  # type: ignore[valid-type]
        resources: Resources,
    ) -> JsonResponse:
        changes = cast(PatchModel, body).changes()
        return ok(await service_of(resources).update(tenant_id, {key_field: code}, changes))

    if with_delete:

        @router.delete(
            member,
            status_code=204,
            dependencies=[Depends(require_admin)],
            summary=f"Delete a {label}",
            name=f"delete_{name}",
            responses={
                **WRITE_ANSWERS,
                **error_responses(
                    404,
                    409,
                    s404=missing,
                    s409="CATEGORY_IN_USE or TAX_RULE_IN_USE (used by items)",
                ),
            },
        )
        async def delete(tenant_id: TenantPath, code: CodePath, resources: Resources) -> None:
            await service_of(resources).delete(tenant_id, {key_field: code})

    return router


def _add_list(
    router: ServiceRouter,
    collection: str,
    label: str,
    name: str,
    service_of: ServiceOf,
    out_model: type[Record],
) -> None:
    @router.get(
        collection,
        response_model=Envelope[list[out_model]],  # type: ignore[valid-type]
        dependencies=[Depends(require_reader)],
        summary=f"List {label}s",
        name=f"list_{name}s",
        responses=READ_ANSWERS,
    )
    async def list_records(
        tenant_id: TenantPath, resources: Resources, page: PageQuery = 1, limit: LimitQuery = 50
    ) -> JsonResponse:
        records, total = await service_of(resources).page(tenant_id, {}, page, limit)
        return ok(records, meta=PageMeta(page=page, limit=limit, total=total))
