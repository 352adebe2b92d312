"""What routes read from the app: the resources the lifespan built, and common parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from master_data.identifiers import CodePath as CodePath
from master_data.identifiers import StorePath as StorePath
from master_data.identifiers import TenantPath as TenantPath
from master_data.resources import MasterDataResources


async def get_resources(request: Request) -> MasterDataResources:
    resources: MasterDataResources = request.app.state.resources
    return resources


Resources = Annotated[MasterDataResources, Depends(get_resources)]
PageQuery = Annotated[int, Query(ge=1, le=100_000, description="1-based page number.")]
LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size.")]
CacheControlHeader = Annotated[
    str | None,
    Header(
        alias="Cache-Control",
        description="`no-cache`: answer from the database, not from this process's cache "
        "(cart asks it when it fills its own cache).",
    ),
]
