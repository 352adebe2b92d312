"""The OpenAPI documents: committed, current, valid OpenAPI 3.1, and complete: every
operation says how to authenticate and every status it can answer, in the error envelope."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from pos_devstack.openapi import documents, path_of, rendered

DOCUMENTS = documents()
SERVICES = sorted(DOCUMENTS)
OPEN = {"/health", "/ready"}  # what needs no credentials
NO_DATABASE = {"/api/v1/stats/cache"}  # answered from memory


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_document_is_current(service: str) -> None:
    assert path_of(service).read_text() == rendered(DOCUMENTS[service]), (
        f"docs/openapi/{service}.json is stale: run scripts/gen_openapi.sh"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi_3_1(service: str) -> None:
    document = DOCUMENTS[service]
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on anything invalid, dangling $refs included


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_says_how_to_authenticate(service: str) -> None:
    document = DOCUMENTS[service]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {
        "type": "http", "scheme": "bearer", "description": schemes["bearerToken"]["description"]
    }  # fmt: skip
    for method, path, operation in _operations(document):
        if path in OPEN:
            assert "security" not in operation, (method, path)
            continue
        used = {name for requirement in operation["security"] for name in requirement}
        if service == "cart" and path.startswith(("/api/v1/carts", "/api/v1/transactions")):
            assert used == {"terminalKey"}, (method, path)
        else:
            assert used == {"bearerToken"}, (method, path)
        assert "401" in operation["responses"], (method, path)
    if service == "cart":
        assert schemes["terminalKey"] == {
            "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": schemes["terminalKey"]["description"],
        }  # fmt: skip


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_answer_is_the_error_envelope(service: str) -> None:
    for method, path, operation in _operations(DOCUMENTS[service]):
        for status, answer in operation["responses"].items():
            if status.startswith("2"):
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
            assert answer["description"], (method, path, status)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
        if path.startswith("/api/") and path not in NO_DATABASE:
            assert {"503", "504"} <= set(operation["responses"]), (method, path)


def test_cart_calls_that_ask_master_data_declare_its_failures() -> None:
    paths = DOCUMENTS["cart"]["paths"]
    for path in ("/api/v1/carts/{cart_id}/lineItems", "/api/v1/carts/{cart_id}/payments"):
        assert {"502", "503", "504"} <= set(paths[path]["post"]["responses"]), path


@pytest.mark.parametrize(
    ("service", "schema", "field"),
    [
        ("cart", "Totals", "totalAmount"),
        ("cart", "PaymentRequest", "amount"),
        ("cart", "LineItem", "unitPrice"),
        ("master-data", "ItemCreate", "unitPrice"),
        ("master-data", "ItemDetail", "effectivePrice"),
        ("master-data", "TaxRule", "rate"),
    ],
)
def test_money_is_a_string_with_a_pattern(service: str, schema: str, field: str) -> None:
    money = DOCUMENTS[service]["components"]["schemas"][schema]["properties"][field]
    assert money["type"] == "string"
    assert money["pattern"] == r"^[0-9]+(\.[0-9]+)?$"


@pytest.mark.parametrize(
    ("service", "schema"),
    [
        ("cart", "AddItems"),
        ("cart", "PaymentRequest"),
        ("cart", "DiscountRequest"),
        ("master-data", "ItemCreate"),
        ("master-data", "TenantCreate"),
    ],
)
def test_main_requests_have_examples(service: str, schema: str) -> None:
    assert DOCUMENTS[service]["components"]["schemas"][schema]["examples"]


def test_operation_ids_are_the_route_names() -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(DOCUMENTS["cart"])]
    assert "create_cart" in ids
    assert "add_payment" in ids
    for service in SERVICES:
        every = [op["operationId"] for _, _, op in _operations(DOCUMENTS[service])]
        assert len(every) == len(set(every)), service
