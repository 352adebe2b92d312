"""master-data's gRPC API against the real grpc.aio server (no stubbed RPC)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import grpc
import httpx
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2

from cart.masterdata.grpc_adapter import health_status
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    common_pb2,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)
from pos_commons.grpc_trailers import ERROR_CODE_KEY
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import MasterDataProcess, Tokens


def _auth(tokens: Tokens) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {tokens.service}"),)


async def _error(call: object) -> tuple[grpc.StatusCode, str | None]:
    with pytest.raises(aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    error = raised.value
    trailing = dict(error.trailing_metadata() or ())
    code = trailing.get(ERROR_CODE_KEY)
    return error.code(), code if isinstance(code, str) else None


async def test_get_item_detail(
    grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id=demo.tenant_id, store_code="S001", item_code="ITEM0005"
    )
    item = (await stub.GetItemDetail(request, metadata=_auth(tokens), timeout=5)).item
    assert item.item_code == "ITEM0005"
    assert item.HasField("store_price")
    assert item.store_price == "0"
    assert item.effective_price == "0"
    assert item.tax_rule.tax_code == item.tax_code
    assert item.tax_rule.tax_type != common_pb2.TAX_TYPE_UNSPECIFIED
    no_override = item_service_pb2.GetItemDetailRequest(
        tenant_id=demo.tenant_id, store_code="S003", item_code="ITEM0005"
    )
    plain = (await stub.GetItemDetail(no_override, metadata=_auth(tokens), timeout=5)).item
    assert not plain.HasField("store_price")
    assert plain.effective_price == plain.unit_price


async def test_batch_get_item_details(
    grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    request = item_service_pb2.BatchGetItemDetailsRequest(
        tenant_id=demo.tenant_id,
        store_code="S001",
        item_codes=["ITEM0002", "MISSING1", "ITEM0001", "ITEM0002", "MISSING2"],
    )
    response = await stub.BatchGetItemDetails(request, metadata=_auth(tokens), timeout=5)
    assert [item.item_code for item in response.items] == ["ITEM0002", "ITEM0001"]
    assert list(response.not_found_item_codes) == ["MISSING1", "MISSING2"]


@pytest.mark.parametrize(
    ("tenant", "store", "item", "status", "code"),
    [
        ("demo", "S001", "NOPE", grpc.StatusCode.NOT_FOUND, "ITEM_NOT_FOUND"),
        ("demo", "S404", "ITEM0001", grpc.StatusCode.NOT_FOUND, "STORE_NOT_FOUND"),
        ("nosuchtenant", "S001", "ITEM0001", grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND"),
        ("Bad Tenant", "S001", "ITEM0001", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_TENANT_ID"),
        ("demo", "S001", "bad code", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CODE"),
        ("demo", "", "ITEM0001", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CODE"),
    ],
)
async def test_get_item_detail_errors(
    grpc_channel: aio.Channel,
    tokens: Tokens,
    demo: DemoCatalog,
    tenant: str,
    store: str,
    item: str,
    status: grpc.StatusCode,
    code: str,
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id=tenant, store_code=store, item_code=item
    )
    assert await _error(stub.GetItemDetail(request, metadata=_auth(tokens), timeout=5)) == (
        status,
        code,
    )


async def test_batch_size_limits(
    grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    for codes in ([], [f"X{n}" for n in range(101)]):
        request = item_service_pb2.BatchGetItemDetailsRequest(
            tenant_id=demo.tenant_id, store_code="S001", item_codes=codes
        )
        call = stub.BatchGetItemDetails(request, metadata=_auth(tokens), timeout=5)
        assert await _error(call) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_BATCH_SIZE")
    malformed = item_service_pb2.BatchGetItemDetailsRequest(
        tenant_id=demo.tenant_id, store_code="S001", item_codes=["ITEM0001", "b c"]
    )
    call = stub.BatchGetItemDetails(malformed, metadata=_auth(tokens), timeout=5)
    assert await _error(call) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CODE")


async def test_tokens_are_required(
    grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id=demo.tenant_id, store_code="S001", item_code="ITEM0001"
    )
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", "x"),)):
        status, _ = await _error(stub.GetItemDetail(request, metadata=metadata, timeout=5))
        assert status == grpc.StatusCode.UNAUTHENTICATED
    admin = (("authorization", f"Bearer {tokens.admin}"),)
    assert (await stub.GetItemDetail(request, metadata=admin, timeout=5)).item.item_code


async def test_get_payment_method(
    grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = payment_method_service_pb2_grpc.PaymentMethodServiceStub(grpc_channel)
    cash = (
        await stub.GetPaymentMethod(
            payment_method_service_pb2.GetPaymentMethodRequest(
                tenant_id=demo.tenant_id, payment_code="CASH"
            ),
            metadata=_auth(tokens),
            timeout=5,
        )
    ).payment_method
    assert (cash.can_give_change, cash.can_exceed_balance, cash.is_active) == (True, True, True)
    missing = stub.GetPaymentMethod(
        payment_method_service_pb2.GetPaymentMethodRequest(
            tenant_id=demo.tenant_id, payment_code="NOPE"
        ),
        metadata=_auth(tokens),
        timeout=5,
    )
    assert await _error(missing) == (grpc.StatusCode.NOT_FOUND, "PAYMENT_METHOD_NOT_FOUND")


async def test_health_needs_no_token(grpc_channel: aio.Channel) -> None:
    for service in ("", "pos.masterdata.v1.ItemService", "pos.masterdata.v1.PaymentMethodService"):
        status = await health_status(grpc_channel, service, deadline_seconds=5)
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lets_buf_curl_call_without_protos(
    master_data: MasterDataProcess, tokens: Tokens, demo: DemoCatalog, tmp_path: Path
) -> None:
    buf = str(Path(sys.executable).parent / "buf")
    url = f"http://{master_data.grpc_target}"
    listed = subprocess.run(
        [buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", url],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert "pos.masterdata.v1.ItemService/GetItemDetail" in listed.stdout
    called = subprocess.run(
        [
            buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
            "-H", f"authorization: Bearer {tokens.service}",
            "-d", '{"tenant_id": "demo", "store_code": "S001", "item_code": "ITEM0007"}',
            f"{url}/pos.masterdata.v1.ItemService/GetItemDetail",
        ],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert '"itemCode": "ITEM0007"' in called.stdout
    assert '"storePrice"' in called.stdout


@pytest.mark.parametrize(
    ("tenant", "store", "item"),
    [("Bad Tenant", "S001", "ITEM0001"), ("demo", "bad store!", "ITEM0001"),
     ("demo", "S001", "bad item!"), ("demo", "S999", "ITEM0001"), ("demo", "S001", "NOPE")],
)  # fmt: skip
async def test_a_refused_lookup_reads_the_same_over_http(
    grpc_channel: aio.Channel,
    reader: httpx.AsyncClient,
    tokens: Tokens,
    demo: DemoCatalog,
    tenant: str,
    store: str,
    item: str,
) -> None:
    """Same code and same words on both transports (HTTP's path escapes what it must)."""
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id=tenant, store_code=store, item_code=item
    )
    with pytest.raises(aio.AioRpcError) as over_grpc:
        await stub.GetItemDetail(request, metadata=_auth(tokens), timeout=5)
    path = f"/api/v1/tenants/{quote(tenant)}/stores/{quote(store)}/itemDetails/{quote(item)}"
    over_http = (await reader.get(path)).json()["error"]
    trailing = dict(over_grpc.value.trailing_metadata() or ())
    assert (trailing["x-error-code"], over_grpc.value.details()) == (
        over_http["code"],
        over_http["message"],
    )
