"""Catalog import and export in bulk: /tenants/{tenantId}/bulk/{kind}.

An import is a batch of rows of one kind, each validated by the same model as that kind's
create and checked by the same rules (the catalog services' `check_many`), then upserted:
new keys created, changed records updated, the same rows again left as they are. Each row's
outcome is answered; a bad row refuses only itself. An export streams every record of the
kind as JSON Lines, in key order, which imported again changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import Field, ValidationError

from master_data.api.deps import Resources, TenantPath
from master_data.api.schemas import (
    CategoryCreate,
    ItemCreate,
    PaymentMethodCreate,
    StorePriceRow,
    TaxRuleCreate,
)
from master_data.resources import MasterDataResources
from master_data.services.catalog import Outcome, RecordService, RowOutcome
from pos_commons.auth import require_admin, require_reader
from pos_commons.envelope import ApiModel, Envelope, JsonResponse, ok
from pos_commons.errors import UnprocessableError
from pos_commons.http_errors import validation_fields, validation_summary
from pos_commons.models import CamelModel
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

MAX_BULK_ROWS = 1_000
"""Rows one import call takes: a batch answers in well under a second, and its body stays
far below MAX_REQUEST_BYTES (1,000 items of the longest texts are about 700 KB)."""


class BulkKind(StrEnum):
    CATEGORIES = "categories"
    TAX_RULES = "taxRules"
    PAYMENT_METHODS = "paymentMethods"
    ITEMS = "items"
    STORE_PRICES = "storePrices"


ROW_MODELS: dict[BulkKind, type[ApiModel]] = {
    BulkKind.CATEGORIES: CategoryCreate,
    BulkKind.TAX_RULES: TaxRuleCreate,
    BulkKind.PAYMENT_METHODS: PaymentMethodCreate,
    BulkKind.ITEMS: ItemCreate,
    BulkKind.STORE_PRICES: StorePriceRow,
}
"""What a row of each kind is: the fields (and rules) of its create."""

_SERVICES: dict[BulkKind, Callable[[MasterDataResources], RecordService[Any]]] = {
    BulkKind.CATEGORIES: lambda r: r.catalog.categories,
    BulkKind.TAX_RULES: lambda r: r.catalog.tax_rules,
    BulkKind.PAYMENT_METHODS: lambda r: r.catalog.payment_methods,
    BulkKind.ITEMS: lambda r: r.catalog.items,
    BulkKind.STORE_PRICES: lambda r: r.catalog.store_prices,
}


class BulkRows(ApiModel):
    rows: list[dict[str, Any]] = Field(
        description=f"1 to {MAX_BULK_ROWS} rows of the kind, each shaped as that kind's create "
        "body (store prices also name their storeCode)."
    )


class RowError(CamelModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class RowResult(CamelModel):
    index: int = Field(description="The row's position in the batch, from 0.")
    outcome: Outcome
    error: RowError | None = None


class BulkResult(CamelModel):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[RowResult]


router = ServiceRouter(prefix="/api/v1/tenants/{tenant_id}/bulk", tags=["bulk"])
KindPath = Annotated[BulkKind, "the kind of record"]


@router.post(
    "/{kind}",
    response_model=Envelope[BulkResult],
    dependencies=[Depends(require_admin)],
    summary="Import a batch of records of one kind (create or update each; same rows: no change)",
    responses=error_responses(
        400,
        401,
        403,
        404,
        413,
        422,
        503,
        504,
        s404="TENANT_NOT_FOUND",
        s422=f"VALIDATION_FAILED (the body's shape) or INVALID_BATCH_SIZE (more than "
        f"{MAX_BULK_ROWS} rows, or none); a bad row is answered in its result, not here",
    ),
)
async def import_rows(
    tenant_id: TenantPath,
    kind: BulkKind,
    body: BulkRows,
    resources: Resources,
    dry_run: Annotated[
        bool,
        Query(alias="dryRun", description="Validate and decide each row's outcome; write nothing."),
    ] = False,
) -> JsonResponse:
    if not 1 <= len(body.rows) <= MAX_BULK_ROWS:
        raise UnprocessableError(
            f"Give between 1 and {MAX_BULK_ROWS} rows per call.",
            code="INVALID_BATCH_SIZE",
            details={"max": MAX_BULK_ROWS, "given": len(body.rows)},
        )
    model = ROW_MODELS[kind]
    results: list[RowResult | None] = [None] * len(body.rows)
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, row in enumerate(body.rows):
        try:
            fields = model.model_validate(row).model_dump(mode="python", by_alias=False)
        except ValidationError as exc:
            listed = validation_fields(exc.errors())
            results[index] = RowResult(
                index=index,
                outcome="rejected",
                error=RowError(
                    code="VALIDATION_FAILED",
                    message=f"Invalid row: {validation_summary(listed)}",
                    details={"fields": listed},
                ),
            )
            continue
        valid.append(fields)
        positions.append(index)
    outcomes = await _SERVICES[kind](resources).upsert_many(tenant_id, valid, dry_run=dry_run)
    for index, outcome in zip(positions, outcomes, strict=True):
        results[index] = _result(index, outcome)
    rows = [result for result in results if result is not None]
    counts = {name: sum(1 for row in rows if row.outcome == name)
              for name in ("created", "updated", "unchanged", "rejected")}  # fmt: skip
    return ok(BulkResult(dry_run=dry_run, rows=rows, **counts))


def _result(index: int, outcome: RowOutcome) -> RowResult:
    error = outcome.error
    return RowResult(
        index=index,
        outcome=outcome.outcome,
        error=None if error is None else RowError(
            code=error.code, message=error.message, details=error.details
        ),
    )  # fmt: skip


@router.get(
    "/{kind}",
    dependencies=[Depends(require_reader)],
    summary="Export every record of one kind as JSON Lines, in key order",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One record per line (application/x-ndjson), as GET answers it.",
            "content": {"application/x-ndjson": {}},
        },
        **error_responses(401, 404, 422, 503, 504, s404="TENANT_NOT_FOUND"),
    },
)
async def export_rows(
    tenant_id: TenantPath,
    kind: BulkKind,
    resources: Resources,
    include_deleted: Annotated[
        bool, Query(alias="includeDeleted", description="Items: soft-deleted ones too.")
    ] = False,
) -> StreamingResponse:
    service = _SERVICES[kind](resources)
    await resources.tenants.require(tenant_id)
    where = {} if kind is not BulkKind.ITEMS or include_deleted else {"is_deleted": False}
    model = service.records.kind.model

    async def lines() -> AsyncIterator[bytes]:
        async for document in service.records.stream(tenant_id, where):
            yield model.model_validate(document).model_dump_json(by_alias=True).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
