"""Tenant bootstrap: creates the tenant's database, collections, indexes and default tax rules."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from master_data.api.deps import Resources, TenantPath
from master_data.api.schemas import TenantCreate
from master_data.domain import Tenant
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import Envelope, JsonResponse, ok

router = APIRouter(prefix="/api/v1/tenants", tags=["tenant"])


@router.post(
    "",
    status_code=201,
    response_model=Envelope[Tenant],
    dependencies=[Depends(require_admin)],
    summary="Bootstrap a tenant",
)
async def create_tenant(body: TenantCreate, resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.create(body.tenant_id, body.name), status_code=201)


@router.get(
    "",
    response_model=Envelope[list[Tenant]],
    dependencies=[Depends(require_admin)],
    summary="List tenants",
)
async def list_tenants(resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.list())


@router.get(
    "/{tenant_id}",
    response_model=Envelope[Tenant],
    dependencies=[Depends(require_reader)],
    summary="Get a tenant",
)
async def get_tenant(tenant_id: TenantPath, resources: Resources) -> JsonResponse:
    return ok(await resources.tenants.get(tenant_id))
