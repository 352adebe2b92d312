"""The merged item view cart reads: one item, or many in one request.

This is the hot path of the whole system, served by plain Starlette routes: FastAPI's
per-request parameter and dependency machinery costs more than everything else these
endpoints do (docs/performance.md has the figures). They validate their parameters
themselves, raise the same AppErrors, answer in the same envelope, and are documented in the
OpenAPI schema by `document()`. Each cached detail is encoded to JSON once, not per request.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request

from master_data.domain import ItemDetail, ItemDetailBatch
from master_data.resources import MasterDataResources
from master_data.services.item_details import MAX_BATCH
from pos_commons.auth import Role
from pos_commons.envelope import Envelope, JsonResponse, ok, to_wire
from pos_commons.errors import UnprocessableError
from pos_commons.observability import TemplatedRoute
from pos_commons.validation import is_code, is_tenant_id

PREFIX = "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails"
MAX_CODES_PARAMETER = 8_000


def _resources(request: Request) -> MasterDataResources:
    resources: MasterDataResources = request.app.state.resources
    resources.verifier.authorize(request.headers.get("authorization"), Role.READER)
    return resources


def _path(request: Request) -> tuple[str, str]:
    tenant_id: str = request.path_params["tenant_id"]
    store_code: str = request.path_params["store_code"]
    if not is_tenant_id(tenant_id):
        raise UnprocessableError(f"Tenant id {tenant_id!r} is malformed.", code="INVALID_TENANT_ID")
    if not is_code(store_code):
        raise UnprocessableError(f"Store code {store_code!r} is malformed.", code="INVALID_CODE")
    return tenant_id, store_code


def _json(detail: ItemDetail) -> Any:
    return detail.memo("json", to_wire)


async def get_item_detail(request: Request) -> JsonResponse:
    resources = _resources(request)
    tenant_id, store_code = _path(request)
    item_code: str = request.path_params["item_code"]
    if not is_code(item_code):
        raise UnprocessableError(f"Item code {item_code!r} is malformed.", code="INVALID_CODE")
    return ok(_json(await resources.item_details.get(tenant_id, store_code, item_code)))


async def get_item_details(request: Request) -> JsonResponse:
    resources = _resources(request)
    tenant_id, store_code = _path(request)
    codes = request.query_params.get("codes")
    if codes is None or len(codes) > MAX_CODES_PARAMETER:
        raise UnprocessableError(
            "Give the item codes as ?codes=A,B,C (comma-separated).", code="INVALID_BATCH_SIZE"
        )
    item_codes = [code for code in codes.split(",") if code]
    invalid = [code for code in item_codes if not is_code(code)]
    if invalid:
        raise UnprocessableError(
            f"Malformed item codes: {', '.join(repr(c) for c in invalid[:5])}.",
            code="INVALID_ITEM_CODE",
            details={"itemCodes": invalid[:20]},
        )
    if not item_codes or len(item_codes) > MAX_BATCH:
        raise UnprocessableError(
            f"Give between 1 and {MAX_BATCH} item codes.", code="INVALID_BATCH_SIZE"
        )
    batch = await resources.item_details.get_many(tenant_id, store_code, item_codes)
    return ok(
        {
            "items": [_json(detail) for detail in batch.items],
            "notFoundItemCodes": batch.not_found_item_codes,
        }
    )


ROUTES = [
    TemplatedRoute(
        f"{PREFIX}/{{item_code}}", get_item_detail, methods=["GET"], name="get_item_detail"
    ),
    TemplatedRoute(PREFIX, get_item_details, methods=["GET"], name="get_item_details"),
]


def document(app: FastAPI) -> None:
    """Adds the two Starlette routes to the app's OpenAPI schema, which only sees FastAPI's."""

    def path_parameter(name: str, description: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                "description": description}  # fmt: skip

    def operation(summary: str, model: type[Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "tags": ["item details"],
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": [
                path_parameter("tenant_id", "Tenant id."),
                path_parameter("store_code", "Store code."),
                *extra,
            ],
            "responses": {
                "200": {
                    "description": "The merged item view.",
                    "content": {"application/json": {"schema": model.model_json_schema(
                        by_alias=True, ref_template="#/components/schemas/{model}")}},
                },
                "401": {"description": "Missing or invalid service token."},
                "404": {"description": "TENANT_NOT_FOUND, STORE_NOT_FOUND or ITEM_NOT_FOUND."},
                "422": {"description": "Malformed id, code or batch."},
            },
        }  # fmt: skip

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            paths = generated.setdefault("paths", {})
            paths[f"{PREFIX}/{{item_code}}"] = {
                "get": operation(
                    "One item's detail",
                    Envelope[ItemDetail],
                    [path_parameter("item_code", "Item code.")],
                )
            }
            paths[PREFIX] = {
                "get": operation(
                    f"Many items' details in one call (at most {MAX_BATCH} codes)",
                    Envelope[ItemDetailBatch],
                    [{"name": "codes", "in": "query", "required": True,
                      "schema": {"type": "string"}, "description": "Comma-separated codes."}],
                )
            }  # fmt: skip
            app.openapi_schema = generated
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
