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
from pydantic import BaseModel
from starlette.requests import Request

from master_data.domain import ItemDetail, ItemDetailBatch
from master_data.identifiers import check_code, check_item_codes, check_tenant_id
from master_data.resources import MasterDataResources
from pos_commons.auth import Role
from pos_commons.envelope import Envelope, ErrorEnvelope, JsonResponse, ok, to_wire
from pos_commons.errors import UnprocessableError
from pos_commons.grpc_trailers import wants_fresh
from pos_commons.limits import MAX_ITEMS_PER_LOOKUP
from pos_commons.observability import TemplatedRoute
from pos_commons.openapi import BEARER, error_responses
from pos_commons.validation import CODE_REGEX, TENANT_ID_REGEX

PREFIX = "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails"
# ?codes=: at most MAX_ITEMS_PER_LOOKUP codes of at most 64 characters, comma-separated.
MAX_CODES_PARAMETER = MAX_ITEMS_PER_LOOKUP * 65
CODES_PATTERN = r"^[A-Za-z0-9_.,-]+$"


def _resources(request: Request) -> MasterDataResources:
    resources: MasterDataResources = request.app.state.resources
    resources.verifier.authorize(request.headers.get("authorization"), Role.READER)
    return resources


def _path(request: Request) -> tuple[str, str]:
    tenant_id: str = request.path_params["tenant_id"]
    store_code: str = request.path_params["store_code"]
    check_tenant_id(tenant_id)
    check_code("Store code", store_code)
    return tenant_id, store_code


def _json(detail: ItemDetail) -> Any:
    return detail.memo("json", to_wire)


async def get_item_detail(request: Request) -> JsonResponse:
    resources = _resources(request)
    tenant_id, store_code = _path(request)
    item_code: str = request.path_params["item_code"]
    check_code("Item code", item_code)
    fresh = wants_fresh(request.headers.get("cache-control"))
    detail = await resources.item_details.get(tenant_id, store_code, item_code, fresh=fresh)
    return ok(_json(detail))


async def get_item_details(request: Request) -> JsonResponse:
    resources = _resources(request)
    tenant_id, store_code = _path(request)
    codes = request.query_params.get("codes")
    if codes is None or len(codes) > MAX_CODES_PARAMETER:
        raise UnprocessableError(
            "Give the item codes as ?codes=A,B,C (comma-separated).", code="INVALID_BATCH_SIZE"
        )
    item_codes = [code for code in codes.split(",") if code]
    check_item_codes(item_codes)
    fresh = wants_fresh(request.headers.get("cache-control"))
    batch = await resources.item_details.get_many(tenant_id, store_code, item_codes, fresh=fresh)
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


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """`model`'s schema, its nested models added to `components` (refs stay resolvable)."""
    schema = model.model_json_schema(
        by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
    )
    components.update(schema.pop("$defs", {}))
    return schema


def document(app: FastAPI) -> None:
    """Adds the two Starlette routes to the app's OpenAPI schema, which only sees FastAPI's."""

    def path_parameter(name: str, description: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "description": description,
                "schema": {"type": "string", "pattern": CODE_REGEX}}  # fmt: skip

    def operation(
        operation_id: str,
        summary: str,
        model: type[BaseModel],
        extra: list[dict[str, Any]],
        components: dict[str, Any],
    ) -> dict[str, Any]:
        ok_schema = _schema_of(model, components)
        return {
            "tags": ["item details"],
            "summary": summary,
            "operationId": operation_id,
            "security": [{BEARER.scheme_name: []}],
            "parameters": [
                {"name": "tenant_id", "in": "path", "required": True, "description": "Tenant id.",
                 "schema": {"type": "string", "pattern": TENANT_ID_REGEX}},
                path_parameter("store_code", "Store code."),
                *extra,
                {"name": "Cache-Control", "in": "header", "required": False,
                 "description": "`no-cache`: answer from the database, not from this "
                 "process's cache (cart asks it when it fills its own cache).",
                 "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The merged item view.",
                        "content": {"application/json": {"schema": ok_schema}}},
                **{
                    str(status): {
                        "description": answer["description"],
                        "content": {"application/json": {"schema": {
                            "$ref": "#/components/schemas/ErrorEnvelope"}}},
                    }
                    for status, answer in error_responses(
                        401, 404, 422, 503, 504,
                        s404="TENANT_NOT_FOUND, STORE_NOT_FOUND or ITEM_NOT_FOUND",
                        s422="INVALID_TENANT_ID, INVALID_CODE or "
                        "INVALID_BATCH_SIZE",
                    ).items()
                },
            },
        }  # fmt: skip

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            components = generated.setdefault("components", {}).setdefault("schemas", {})
            components["ErrorEnvelope"] = _schema_of(ErrorEnvelope, components)
            paths = generated.setdefault("paths", {})
            paths[f"{PREFIX}/{{item_code}}"] = {
                "get": operation(
                    "get_item_detail",
                    "One item's detail",
                    Envelope[ItemDetail],
                    [path_parameter("item_code", "Item code.")],
                    components,
                )
            }
            paths[PREFIX] = {
                "get": operation(
                    "get_item_details",
                    f"Many items' details in one call (at most {MAX_ITEMS_PER_LOOKUP} codes)",
                    Envelope[ItemDetailBatch],
                    [{"name": "codes", "in": "query", "required": True,
                      "schema": {"type": "string", "pattern": CODES_PATTERN,
                                 "maxLength": MAX_CODES_PARAMETER},
                      "description": f"Comma-separated item codes, 1 to {MAX_ITEMS_PER_LOOKUP}."}],
                    components,
                )
            }  # fmt: skip
            app.openapi_schema = generated
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
