"""Tenant bootstrap: creates the tenant's database, collections, indexes and default tax rules."""

from __future__ import annotations

from fastapi import Depends

from master_data.api.deps import Resources, TenantPath
from master_data.api.schemas import TenantCreate
from master_data.domain import Tenant
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import Envelope, JsonResponse, ok
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

router = ServiceRouter(prefix="/api/v1/tenants", tags=["tenant"])


@router.post(
    "",
    status_code=201,
    response_model=Envelope[Tenant],
    dependencies=[Depends(require_admin)],
    summary="Bootstrap a tenant",
    responses=error_responses(400, 401, 403, 409, 413, 422, 503, 504, s409="TENANT_EXISTS"),
)
async def create_tenant(body: TenantCreate, resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.create(body.tenant_id, body.name), status_code=201)


@router.get(
    "",
    response_model=Envelope[list[Tenant]],
    dependencies=[Depends(require_admin)],
    summary="List tenants",
    responses=error_responses(401, 403, 503, 504),
)
async def list_tenants(resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.list())


@router.get(
    "/{tenant_id}",
    response_model=Envelope[Tenant],
    dependencies=[Depends(require_reader)],
    summary="Get a tenant",
    responses=error_responses(401, 404, 422, 503, 504, s404="TENANT_NOT_FOUND"),
)
async def get_tenant(tenant_id: TenantPath, resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.get(tenant_id))
