"""What routes read from the app: the resources the lifespan built, and common parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from master_data.resources import MasterDataResources
from pos_commons.validation import CODE_REGEX, TENANT_ID_REGEX


async def get_resources(request: Request) -> MasterDataResources:
    resources: MasterDataResources = request.app.state.resources
    return resources


Resources = Annotated[MasterDataResources, Depends(get_resources)]
TenantPath = Annotated[str, Path(pattern=TENANT_ID_REGEX, description="Tenant id.")]
StorePath = Annotated[str, Path(pattern=CODE_REGEX, description="Store code.")]
CodePath = Annotated[str, Path(pattern=CODE_REGEX)]
PageQuery = Annotated[int, Query(ge=1, le=100_000, description="1-based page number.")]
LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size.")]
