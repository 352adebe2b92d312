"""cart's two master-data repositories against real servers that misbehave on purpose: each
failure kind gives the same status, code and message on both transports, and only "the
server did not do it" is tried again (within the budget; a retry may go to another replica).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import grpc
import orjson
import pytest
from prometheus_client import CollectorRegistry

from cart.domain.model import TaxRule
from cart.masterdata.factory import MeasuredRepository
from cart.masterdata.failures import Retrier, RetryPolicy
from cart.masterdata.grpc_adapter import GrpcMasterDataRepository, MasterDataChannel
from cart.masterdata.http_adapter import HttpMasterDataRepository, HttpSettings
from cart.masterdata.repository import ItemLookup, MasterDataRepository, TaxRuleMemo, tax_rule
from pos_commons.errors import AppError
from pos_commons.grpc_stubs.pos.masterdata.v1 import common_pb2, item_service_pb2
from pos_commons.limits import MAX_ITEMS_PER_LOOKUP
from pos_commons.tax import (
    ROUNDING_METHOD_MESSAGES,
    TAX_TYPE_MESSAGES,
    RoundingMethod,
    TaxRuleTerms,
    TaxType,
)
from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK, free_port
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import MasterDataProcess, Tokens
from tests.scripted import (
    RESET,
    STALL,
    GrpcAnswer,
    HttpAnswer,
    grpc_abort,
    grpc_reply,
    grpc_stall,
    scripted_grpc,
    scripted_http,
)

BUDGET = 1.0
REFUSED_TOKEN = "master-data refused cart's service token (SERVICE_TOKEN)."
FAST = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)
S = grpc.StatusCode


def _envelope(data: object) -> tuple[int, bytes]:
    return 200, orjson.dumps({"success": True, "data": data, "requestId": "r"})


def _error(status: int, code: str, message: str = "m") -> tuple[int, bytes]:
    body = {"success": False, "error": {"code": code, "message": message, "details": {}}}
    return status, orjson.dumps(body)


HTTP_NOT_FOUND_ONLY = _envelope({"items": [], "notFoundItemCodes": ["X1"]})
GRPC_NOT_FOUND_ONLY = grpc_reply(
    item_service_pb2.BatchGetItemDetailsResponse(not_found_item_codes=["X1"])
)
GRPC_MALFORMED = grpc_reply(
    item_service_pb2.BatchGetItemDetailsResponse(
        items=[
            item_service_pb2.ItemDetail(
                item_code="X1",
                effective_price="twelve",
                unit_price="12",
                tax_rule=common_pb2.TaxRule(
                    rate="10",
                    tax_type=common_pb2.TAX_TYPE_EXTERNAL,
                    rounding_method=common_pb2.ROUNDING_METHOD_HALF_UP,
                ),
            )
        ]
    )
)


@dataclass
class Scripted:
    repository: MasterDataRepository
    calls: Callable[[], int]
    """How many requests the scripted servers have received so far."""


@asynccontextmanager
async def http_repository(*scripts: list[HttpAnswer]) -> AsyncIterator[Scripted]:
    """The HTTP repository over one scripted server per script (replicas of one URL list)."""
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(scripted_http(s)) for s in scripts]
        repository = HttpMasterDataRepository(
            [server.url for server in servers],
            "token",
            Retrier(Transport.HTTP, BUDGET, FAST),
            HttpSettings(read_timeout_seconds=BUDGET),
        )
        stack.push_async_callback(repository.close)
        yield Scripted(repository, lambda: sum(len(server.seen) for server in servers))


@asynccontextmanager
async def grpc_repository(*scripts: list[GrpcAnswer]) -> AsyncIterator[Scripted]:
    async with AsyncExitStack() as stack:
        started = [await stack.enter_async_context(scripted_grpc(s)) for s in scripts]
        services = [service for service, _ in started]
        target = "ipv4:" + ",".join(address for _, address in started)
        repository = GrpcMasterDataRepository(
            MasterDataChannel(target), "token", Retrier(Transport.GRPC, BUDGET, FAST)
        )
        stack.push_async_callback(repository.close)
        yield Scripted(repository, lambda: sum(service.calls for service in services))


async def _outcome(scripted: Scripted) -> ItemLookup | tuple[int, str, str]:
    try:
        return await scripted.repository.get_items("demo", "S001", ["X1"])
    except AppError as exc:
        return exc.status_code, exc.code, exc.message


# (failure, what the HTTP server answers, what the gRPC server answers, the outcome, attempts)
CASES: list[tuple[str, list[HttpAnswer], list[GrpcAnswer], object, int]] = [
    (
        "answered",
        [HTTP_NOT_FOUND_ONLY],
        [GRPC_NOT_FOUND_ONLY],
        ItemLookup({}, ["X1"]),
        1,
    ),
    (
        "unavailable, then answered",
        [_error(503, ""), (502, b"bad gateway"), HTTP_NOT_FOUND_ONLY],
        [grpc_abort(S.UNAVAILABLE), grpc_abort(S.UNAVAILABLE), GRPC_NOT_FOUND_ONLY],
        ItemLookup({}, ["X1"]),
        3,
    ),
    (
        "server went away mid-call, then answered",
        [RESET, HTTP_NOT_FOUND_ONLY],
        [grpc_abort(S.CANCELLED), GRPC_NOT_FOUND_ONLY],
        ItemLookup({}, ["X1"]),
        2,
    ),
    (
        "unavailable throughout",
        [_error(503, "")],
        [grpc_abort(S.UNAVAILABLE)],
        (503, "MASTER_DATA_UNAVAILABLE", "master-data cannot be reached; try again shortly."),
        3,
    ),
    (
        "its database unavailable",
        [_error(503, "DATABASE_UNAVAILABLE")],
        [grpc_abort(S.UNAVAILABLE, "DATABASE_UNAVAILABLE")],
        (
            503,
            "MASTER_DATA_DATABASE_UNAVAILABLE",
            "master-data cannot reach its database; try again shortly.",
        ),
        1,
    ),
    (
        "its database too slow",
        [_error(504, "DATABASE_TIMEOUT")],
        [grpc_abort(S.DEADLINE_EXCEEDED, "DATABASE_TIMEOUT")],
        (
            503,
            "MASTER_DATA_DATABASE_UNAVAILABLE",
            "master-data cannot reach its database; try again shortly.",
        ),
        1,
    ),
    (
        "too slow",
        [STALL],
        [grpc_stall()],
        (504, "MASTER_DATA_TIMEOUT", "master-data did not answer in time."),
        1,
    ),
    (
        "a proxy's timeout, without a code",
        [(504, b"gateway timeout")],
        [grpc_abort(S.DEADLINE_EXCEEDED)],
        (504, "MASTER_DATA_TIMEOUT", "master-data did not answer in time."),
        1,
    ),
    (
        "rejected credentials",
        [_error(401, "INVALID_TOKEN")],
        [grpc_abort(S.UNAUTHENTICATED, "INVALID_TOKEN")],
        (
            502,
            "MASTER_DATA_AUTH_FAILED",
            "master-data refused cart's service token (SERVICE_TOKEN).",
        ),
        1,
    ),
    (
        "credentials refused by a proxy in front",
        [(401, b"")],
        [grpc_abort(S.UNAUTHENTICATED)],
        (502, "MASTER_DATA_AUTH_FAILED", REFUSED_TOKEN),
        1,
    ),
    (
        "a 200 without data",
        [(200, b'{"success": true}')],
        [GRPC_MALFORMED],
        (502, "MASTER_DATA_ERROR", "master-data answered something cart cannot use."),
        1,
    ),
    (
        "not JSON at all",
        [(200, b"<html>")],
        [grpc_abort(S.UNIMPLEMENTED)],
        (502, "MASTER_DATA_ERROR", "master-data answered something cart cannot use."),
        1,
    ),
    (
        "an error of its own",
        [_error(500, "INTERNAL_ERROR")],
        [grpc_abort(S.INTERNAL, "INTERNAL_ERROR")],
        (502, "MASTER_DATA_ERROR", "master-data answered something cart cannot use."),
        1,
    ),
    (
        "the store is unknown",
        [_error(404, "STORE_NOT_FOUND", "No store 'S001'.")],
        [grpc_abort(S.NOT_FOUND, "STORE_NOT_FOUND", "No store 'S001'.")],
        (404, "STORE_NOT_FOUND", "master-data: No store 'S001'."),
        1,
    ),
    (
        "a wrong URL or an unknown route",
        [_error(404, "ROUTE_NOT_FOUND")],
        [grpc_abort(S.NOT_FOUND, "ROUTE_NOT_FOUND")],
        (502, "MASTER_DATA_ERROR", "master-data answered something cart cannot use."),
        1,
    ),
]


@pytest.mark.parametrize(
    ("failure", "http_answers", "grpc_answers", "expected", "attempts"),
    CASES,
    ids=[case[0] for case in CASES],
)
async def test_each_failure_reads_the_same_on_both_transports(
    failure: str,
    http_answers: list[HttpAnswer],
    grpc_answers: list[GrpcAnswer],
    expected: object,
    attempts: int,
) -> None:
    async with http_repository(http_answers) as over_http:
        http_outcome = await _outcome(over_http)
        http_attempts = over_http.calls()
    async with grpc_repository(grpc_answers) as over_grpc:
        grpc_outcome = await _outcome(over_grpc)
        grpc_attempts = over_grpc.calls()
    assert http_outcome == expected
    assert grpc_outcome == expected
    assert http_attempts == attempts
    assert grpc_attempts == attempts


async def test_a_replica_that_refuses_costs_no_call() -> None:
    """Of two replicas, one not listening: every lookup is answered, on both transports."""
    dead = f"{LOOPBACK}:{free_port()}"
    async with scripted_http([HTTP_NOT_FOUND_ONLY]) as alive:
        http = HttpMasterDataRepository(
            [f"http://{dead}", alive.url],
            "token",
            Retrier(Transport.HTTP, BUDGET, FAST),
            HttpSettings(read_timeout_seconds=BUDGET),
        )
        try:
            for _ in range(10):
                assert await http.get_items("demo", "S001", ["X1"]) == ItemLookup({}, ["X1"])
        finally:
            await http.close()
    async with scripted_grpc([GRPC_NOT_FOUND_ONLY]) as (_, live_target):
        remote = GrpcMasterDataRepository(
            MasterDataChannel(f"ipv4:{dead},{live_target}"),
            "token",
            Retrier(Transport.GRPC, BUDGET, FAST),
        )
        try:
            for _ in range(10):
                assert await remote.get_items("demo", "S001", ["X1"]) == ItemLookup({}, ["X1"])
        finally:
            await remote.close()


async def test_retries_stay_within_the_budget() -> None:
    """Unavailable throughout, and attempts to spare: retried, but never past the budget."""
    budget = 0.5
    many = RetryPolicy(max_attempts=100, initial_backoff_seconds=0.02, max_backoff_seconds=0.05)
    async with scripted_http([_error(503, "")]) as server:
        http = HttpMasterDataRepository(
            [server.url],
            "token",
            Retrier(Transport.HTTP, budget, many),
            HttpSettings(read_timeout_seconds=budget),
        )
        started = time.monotonic()
        try:
            with pytest.raises(AppError) as raised:
                await http.get_items("demo", "S001", ["X1"])
        finally:
            await http.close()
        elapsed = time.monotonic() - started
    assert raised.value.code == "MASTER_DATA_UNAVAILABLE"
    assert 1 < len(server.seen) < 100
    assert elapsed < budget + 0.2


# The same item answered again and again, each time with one field of its tax rule changed
# (or the rule malformed): the line must get the rule as this answer says it, never one seen
# before that differs in a single field.
RULES = [
    TaxRuleTerms(
        tax_code="T1",
        name="VAT",
        tax_type=TaxType.EXTERNAL,
        rate=Decimal("10"),
        rounding_digits=0,
        rounding_method=RoundingMethod.HALF_UP,
    )
]
for change in (
    {"tax_code": "T2"},
    {"name": "VAT 2"},
    {"tax_type": TaxType.INTERNAL},
    {"rate": Decimal("8")},
    {"rounding_digits": 2},
    {"rounding_method": RoundingMethod.DOWN},
):
    RULES.append(RULES[0].model_copy(update=change))
RULES.append(RULES[0])


def _http_item(rule: TaxRuleTerms | None) -> tuple[int, bytes]:
    tax_rule = rule.model_dump(mode="json", by_alias=True) if rule else {"taxType": "x"}
    item = {
        "itemCode": "X1",
        "description": "d",
        "shortDescription": "s",
        "categoryCode": "c",
        "effectivePrice": "12",
        "unitPrice": "12",
        "storePrice": None,
        "isDiscountRestricted": False,
        "isDeleted": False,
        "taxRule": tax_rule,
    }
    return _envelope({"items": [item], "notFoundItemCodes": []})


def _grpc_item(rule: TaxRuleTerms | None) -> GrpcAnswer:
    message = common_pb2.TaxRule(tax_type=common_pb2.TAX_TYPE_UNSPECIFIED)
    if rule is not None:
        message = common_pb2.TaxRule(
            tax_code=rule.tax_code,
            name=rule.name,
            tax_type=TAX_TYPE_MESSAGES[rule.tax_type],
            rate=str(rule.rate),
            rounding_digits=rule.rounding_digits,
            rounding_method=ROUNDING_METHOD_MESSAGES[rule.rounding_method],
        )
    item = item_service_pb2.ItemDetail(
        item_code="X1", effective_price="12", unit_price="12", tax_rule=message
    )
    return grpc_reply(item_service_pb2.BatchGetItemDetailsResponse(items=[item]))


async def test_each_answer_gets_its_own_tax_rule() -> None:
    """Tax rules are shared between lookups by the values they came with (TaxRuleMemo):
    a rule that differs in any one field is a rule of its own, and a malformed one is refused
    every time, not remembered."""
    sequence: list[TaxRuleTerms | None] = [RULES[0], None, *RULES[1:], None]
    async with (
        http_repository([_http_item(rule) for rule in sequence]) as over_http,
        grpc_repository([_grpc_item(rule) for rule in sequence]) as over_grpc,
    ):
        for scripted in (over_http, over_grpc):
            for rule in sequence:
                outcome = await _outcome(scripted)
                if rule is None:
                    assert isinstance(outcome, tuple)
                    assert outcome[1] == "MASTER_DATA_ERROR"
                    continue
                assert isinstance(outcome, ItemLookup)
                assert outcome.found["X1"].tax_rule.model_dump() == rule.model_dump()


def test_the_tax_rule_memo_is_bounded() -> None:
    memo = TaxRuleMemo(limit=2)
    built: list[str] = []

    def parse(code: str) -> TaxRule:
        built.append(code)
        return tax_rule(code, "n", TaxType.EXEMPT, Decimal(0), 0, RoundingMethod.DOWN)

    for code in ("A", "B", "A", "C", "A"):
        assert memo.get((code,), functools.partial(parse, code)).tax_code == code
    assert built == ["A", "B", "C", "A"]  # C found it full: it started over


async def test_a_long_lookup_is_split_at_the_batch_limit(
    master_data: MasterDataProcess, demo: DemoCatalog, tokens: Tokens
) -> None:
    """More codes than one call may carry: split into calls of MAX_ITEMS_PER_LOOKUP against
    the real master-data, with every item found and every unknown code reported, in order,
    the same on both transports."""
    unknown = [f"NOPE{n:04d}" for n in range(MAX_ITEMS_PER_LOOKUP + 50)]
    codes = [*demo.sellable_codes[:30], *unknown, *demo.sellable_codes[30:60]]
    assert len(codes) > MAX_ITEMS_PER_LOOKUP * 2
    store = demo.stores[0]
    over_http = HttpMasterDataRepository(
        [master_data.url], tokens.service, Retrier(Transport.HTTP, 5.0, RetryPolicy())
    )
    over_grpc = GrpcMasterDataRepository(
        MasterDataChannel(master_data.grpc_target),
        tokens.service,
        Retrier(Transport.GRPC, 5.0, RetryPolicy()),
    )
    try:
        lookups = [await r.get_items(demo.tenant_id, store, codes) for r in (over_http, over_grpc)]
    finally:
        await over_http.close()
        await over_grpc.close()
    known = [code for code in codes if code not in unknown]
    for lookup in lookups:
        assert sorted(lookup.found) == sorted(known)
        assert lookup.missing == unknown
    assert lookups[0] == lookups[1]


@pytest.mark.parametrize(
    ("http_answer", "grpc_answer", "kind"),
    [
        (_error(503, "DATABASE_UNAVAILABLE"), grpc_abort(S.UNAVAILABLE, "DATABASE_UNAVAILABLE"),
         "database_unavailable"),
        (_error(404, "TENANT_NOT_FOUND"), grpc_abort(S.NOT_FOUND, "TENANT_NOT_FOUND"), "not_found"),
    ],
    ids=["database_unavailable", "not_found"],
)  # fmt: skip
async def test_the_metrics_name_the_failure_kind_on_both_transports(
    http_answer: HttpAnswer, grpc_answer: GrpcAnswer, kind: str
) -> None:
    """masterdata_call_duration_seconds{outcome}: the kind of the failure table the adapter
    raised, the same label on both transports."""
    registries = {transport: CollectorRegistry() for transport in Transport}
    async with http_repository([http_answer]) as over_http:
        measured = MeasuredRepository(over_http.repository, registries[Transport.HTTP])
        with pytest.raises(AppError):
            await measured.get_items("demo", "S001", ["X1"])
    async with grpc_repository([grpc_answer]) as over_grpc:
        measured = MeasuredRepository(over_grpc.repository, registries[Transport.GRPC])
        with pytest.raises(AppError):
            await measured.get_items("demo", "S001", ["X1"])
    for transport, registry in registries.items():
        labels = {"transport": transport.value, "operation": "get_items", "outcome": kind}
        assert registry.get_sample_value("masterdata_call_duration_seconds_count", labels) == 1
