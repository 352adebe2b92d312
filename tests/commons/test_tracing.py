"""Tracing end to end: cart and master-data as real processes exporting to a real OTLP/HTTP
receiver (tests/otlp_receiver.py), over both transports.

A traced cart per transport sells through a traced master-data: every terminal call is one
trace (cart's server span, its lookups, the hop's client span, master-data's server span,
the MongoDB commands of both, a bill's transaction), and the JSON log lines of both services
written in the call carry its trace and span ids. Two carts with tracing off (one by
OTEL_SDK_DISABLED, one with no exporter named) sell through the same traced master-data: they
export nothing, and master-data's spans of their calls start traces of their own, which they
would not if a trace header had come with them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess, MasterDataProcess, start_cart, start_master_data
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan, tree
from tests.support import Stack, TerminalNumbers, new_terminal

ITEM_DETAILS = "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails"

QUICK_EXPORT = {
    # Export every 100 ms, so the test waits for spans a fraction of a second.
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "LOG_FORMAT": "json",
    "ACCESS_LOG": "true",
}
OFF_KINDS = {
    # Off although an exporter is named: the SDK disabled.
    Transport.HTTP: {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
    # Off by default: no exporter named (OTEL_EXPORTER_OTLP_ENDPOINT alone turns nothing on).
    Transport.GRPC: {},
}


@dataclass(frozen=True)
class TracedStack:
    receiver: OtlpReceiver
    master_data: MasterDataProcess
    traced: dict[Transport, CartProcess]
    untraced: dict[Transport, CartProcess]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def traced_stack(stack: Stack, receiver: OtlpReceiver) -> Iterator[TracedStack]:
    exporting = {
        **QUICK_EXPORT,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
    }
    master_data = start_master_data(
        stack.mongodb_uri, stack.tokens, log_dir=stack.log_dir, name="master-data-traced",
        extra_env=exporting,
    )  # fmt: skip

    def cart(transport: Transport, traced: bool) -> CartProcess:
        name = f"cart-{'traced' if traced else 'untraced'}-{transport}"
        env = (
            {**exporting, "OTEL_SERVICE_NAME": name}
            if traced
            else {
                **QUICK_EXPORT,
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_SERVICE_NAME": name,
                **OFF_KINDS[transport],
            }
        )
        return start_cart(
            stack.mongodb_uri, stack.tokens, master_data, transport=transport,
            log_dir=stack.log_dir, name=name, extra_env=env,
        )  # fmt: skip

    wanted = [(transport, traced) for transport in Transport for traced in (True, False)]
    with ThreadPoolExecutor(len(wanted)) as pool:  # each waits for its process to answer
        started = dict(zip(wanted, pool.map(lambda args: cart(*args), wanted), strict=True))
    running = TracedStack(
        receiver,
        master_data,
        {transport: started[transport, True] for transport in Transport},
        {transport: started[transport, False] for transport in Transport},
    )
    yield running
    for cart_process in started.values():
        cart_process.process.stop()
    master_data.process.stop()


@dataclass(frozen=True)
class Call:
    name: str
    request_id: str
    status: int


class Terminal:
    """A terminal selling through one cart, every call with a request id of its own."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.calls: list[Call] = []

    async def call(self, name: str, method: str, path: str, body: Any = None) -> Any:
        request_id = f"{name}-{uuid.uuid4().hex[:12]}"
        response = await self._client.request(
            method, path, json=body, headers={"x-request-id": request_id}
        )
        self.calls.append(Call(name, request_id, response.status_code))
        return response.json().get("data")


async def _wait_live(cart: CartProcess) -> None:
    """Until cart's catalog feed is live (its cache keeps what lookups bring from then on)."""
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(200):
            health = (await client.get(f"{cart.url}/health")).json()["data"]
            if health["catalogFeed"]["live"] >= 1:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"cart's feed never went live: {health}")


async def sell(
    cart: CartProcess, admin_token: str, demo: DemoCatalog, terminal_no: int
) -> list[Call]:
    """A sale: one item scanned three times (master-data asked; asked again, now kept; from
    the cache), an unknown item, subtotal, cash, bill."""
    store = demo.stores[0]
    item = demo.sellable_codes[0]
    async with await new_terminal(
        cart.url, admin_token, demo.tenant_id, store, terminal_no, request_timeout=10
    ) as client:
        terminal = Terminal(client)
        cart_id = (await terminal.call("create", "POST", "/carts"))["cartId"]
        lines = f"/carts/{cart_id}/lineItems"
        await terminal.call("scan-miss", "POST", lines, [{"itemCode": item}])
        await _wait_live(cart)
        await terminal.call("scan-kept", "POST", lines, [{"itemCode": item}])
        await terminal.call("scan-hit", "POST", lines, [{"itemCode": item}])
        await terminal.call("scan-unknown", "POST", lines, [{"itemCode": "NO_SUCH_ITEM"}])
        await terminal.call("subtotal", "POST", f"/carts/{cart_id}/subtotal")
        await terminal.call(
            "pay", "POST", f"/carts/{cart_id}/payments", {"paymentCode": "CASH", "amount": "1000"}
        )
        await terminal.call("bill", "POST", f"/carts/{cart_id}/bill")
    statuses = {call.name: call.status for call in terminal.calls}
    assert statuses == {
        "create": 201, "scan-miss": 200, "scan-kept": 200, "scan-hit": 200,
        "scan-unknown": 404, "subtotal": 200, "pay": 200, "bill": 200,
    }, statuses  # fmt: skip
    return terminal.calls


def json_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def access_lines(log: Path) -> dict[str, dict[str, Any]]:
    """The access log line of each request id (the last one, for master-data's retries)."""
    return {line["requestId"]: line for line in json_lines(log) if line["logger"] == "pos.access"}


@pytest.fixture(scope="module")
async def sales(
    traced_stack: TracedStack, stack: Stack, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> dict[tuple[Transport, bool], list[Call]]:
    done = {}
    for transport in Transport:
        for traced, carts in ((True, traced_stack.traced), (False, traced_stack.untraced)):
            done[transport, traced] = await sell(
                carts[transport], stack.tokens.cart_admin, demo, terminal_numbers.take()
            )
    return done


def _log(process: CartProcess | MasterDataProcess) -> Path:
    path = process.process.log_path
    assert path is not None
    return path


def _call_traces(
    traced_stack: TracedStack, transport: Transport, calls: list[Call]
) -> dict[str, list[ReceivedSpan]]:
    """Each call's trace, by call name, from the trace id in cart's access log line; waits
    until master-data's server span of each call that reached it has arrived too."""
    cart_lines = access_lines(_log(traced_stack.traced[transport]))
    trace_ids = {call.name: cart_lines[call.request_id]["traceId"] for call in calls}

    def complete(spans: list[ReceivedSpan]) -> bool:
        servers = {(s.service, s.trace_id) for s in spans if s.kind == "SERVER"}
        return all(
            (f"cart-traced-{transport}", trace_id) in servers for trace_id in trace_ids.values()
        ) and all(
            ("master-data", trace_ids[name]) in servers
            for name in ("scan-miss", "scan-kept", "scan-unknown", "pay")
        )

    traced_stack.receiver.wait_for(complete)
    return {name: traced_stack.receiver.trace(trace_id) for name, trace_id in trace_ids.items()}


def _one(spans: list[ReceivedSpan], **wanted: Any) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, key) == value for key, value in wanted.items())]
    assert len(found) == 1, (wanted, [(s.service, s.kind, s.name) for s in spans])
    return found[0]


@pytest.mark.parametrize("transport", list(Transport))
async def test_one_trace_per_call_across_the_hop_and_into_the_database(
    traced_stack: TracedStack,
    sales: dict[tuple[Transport, bool], list[Call]],
    stack: Stack,
    transport: Transport,
) -> None:
    calls = sales[transport, True]
    traces = _call_traces(traced_stack, transport, calls)
    cart_service = f"cart-traced-{transport}"
    # For a reader: a scan's trace as the receiver got it, beside the processes' logs.
    (stack.log_dir / f"trace-of-a-scan-over-{transport}.txt").write_text(
        tree(traces["scan-kept"]) + "\n"
    )

    for call in calls:
        spans = traces[call.name]
        server = _one(spans, service=cart_service, kind="SERVER")
        assert server.parent_id == "", "a terminal's call starts its trace"
        assert server.attributes["http.route"].startswith("/api/v1/carts")
        # Every span of the trace hangs from cart's server span: nothing started a trace of
        # its own along the way.
        ids = {span.span_id for span in spans}
        assert all(span.parent_id in ids for span in spans if span is not server), tree(spans)
        # cart's own commands, each with its collection.
        commands = [s for s in spans if s.service == cart_service and s.kind == "CLIENT"]
        database = [s for s in commands if s.attributes.get("db.system") == "mongodb"]
        assert database, tree(spans)
        assert all(s.attributes.get("db.mongodb.collection") for s in database if s.name.endswith(
            (".insert", ".update", ".find")
        )), tree(spans)  # fmt: skip

    for name in ("scan-miss", "scan-kept", "scan-unknown", "pay"):
        spans = traces[name]
        server = _one(spans, service=cart_service, kind="SERVER")
        lookup = _one(spans, service=cart_service, parent_id=server.span_id, kind="INTERNAL")
        assert lookup.attributes["pos.item_cache"] == "miss"
        hop = _one(spans, parent_id=lookup.span_id)
        assert hop.name.startswith("masterdata ")
        assert hop.attributes["pos.masterdata.transport"] == transport.value
        client = _one(spans, parent_id=hop.span_id)
        assert client.kind == "CLIENT"
        if transport is Transport.GRPC:
            assert client.attributes["rpc.system"] == "grpc", client.attributes
        else:
            assert client.attributes["http.method"] == "GET", client.attributes
        answered = _one(spans, service="master-data", kind="SERVER")
        assert answered.parent_id == client.span_id, "master-data continues cart's trace"
        if transport is Transport.HTTP and name != "pay":
            # Served ahead of FastAPI's routing (the hot path), named all the same.
            assert answered.name == f"GET {ITEM_DETAILS}", answered.name
        reads = [s for s in spans if s.service == "master-data" and s.kind == "CLIENT"]
        assert reads, f"cart asks for a fresh answer: master-data reads its database\n{tree(spans)}"
        assert all(s.parent_id == answered.span_id for s in reads)
        assert all(s.attributes["db.mongodb.collection"] for s in reads), tree(spans)

    hit = traces["scan-hit"]
    lookup = _one(hit, kind="INTERNAL", name="lookup get_items")
    assert lookup.attributes["pos.item_cache"] == "hit"
    assert not [s for s in hit if s.service == "master-data"], tree(hit)

    bill = traces["bill"]
    assert any(s.name.endswith(".commitTransaction") for s in bill), tree(bill)


@pytest.mark.parametrize("transport", list(Transport))
async def test_log_lines_of_a_call_carry_its_trace_in_both_services(
    traced_stack: TracedStack,
    sales: dict[tuple[Transport, bool], list[Call]],
    transport: Transport,
) -> None:
    calls = sales[transport, True]
    traces = _call_traces(traced_stack, transport, calls)
    cart_lines = access_lines(_log(traced_stack.traced[transport]))
    master_data_lines = access_lines(_log(traced_stack.master_data))
    for call in calls:
        spans = traces[call.name]
        line = cart_lines[call.request_id]
        server = _one(spans, service=f"cart-traced-{transport}", kind="SERVER")
        assert (line["traceId"], line["spanId"]) == (server.trace_id, server.span_id)
    for name in ("scan-miss", "scan-unknown", "pay"):
        call = next(c for c in calls if c.name == name)
        # cart passes its request id on: master-data's line of the same call.
        line = master_data_lines[call.request_id]
        answered = _one(traces[name], service="master-data", kind="SERVER")
        assert (line["traceId"], line["spanId"]) == (answered.trace_id, answered.span_id)


@pytest.mark.parametrize("transport", list(Transport))
async def test_with_tracing_off_nothing_is_exported_and_no_trace_travels(
    traced_stack: TracedStack,
    sales: dict[tuple[Transport, bool], list[Call]],
    transport: Transport,
) -> None:
    calls = sales[transport, False]
    cart = traced_stack.untraced[transport]
    master_data_lines = access_lines(_log(traced_stack.master_data))
    asked = [c for c in calls if c.name in ("scan-miss", "scan-kept", "scan-unknown", "pay")]
    trace_ids = {master_data_lines[c.request_id]["traceId"] for c in asked}
    spans = traced_stack.receiver.wait_for(
        lambda spans: trace_ids <= {s.trace_id for s in spans if s.service == "master-data"}
    )
    assert not [s for s in spans if s.service == cart.env["OTEL_SERVICE_NAME"]]
    for trace_id in trace_ids:
        answered = _one(traced_stack.receiver.trace(trace_id), kind="SERVER")
        assert answered.parent_id == "", "a trace header came from a cart with tracing off"
    cart_lines = json_lines(_log(cart))
    assert cart_lines
    assert not [line for line in cart_lines if "traceId" in line]


@pytest.mark.parametrize("transport", list(Transport))
async def test_catalog_changes_applied_by_cart_are_traced(
    traced_stack: TracedStack,
    sales: dict[tuple[Transport, bool], list[Call]],
    admin: httpx.AsyncClient,
    demo: DemoCatalog,
    transport: Transport,
) -> None:
    item = demo.sellable_codes[1]
    path = f"/api/v1/tenants/{demo.tenant_id}/items/{item}"
    description = next(i["description"] for i in demo.items if i["itemCode"] == item)
    response = await admin.patch(path, json={"description": f"{description} (traced)"})
    assert response.status_code == 200, response.text
    # The demo catalog is the session's: put it back as it was.
    response = await admin.patch(path, json={"description": description})
    assert response.status_code == 200, response.text
    cart_service = f"cart-traced-{transport}"

    def applied(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [
            s
            for s in spans
            if s.service == cart_service
            and s.name == "catalog feed apply"
            and s.attributes["pos.catalog.key"] == f"item_code={item}"
        ]

    spans = traced_stack.receiver.wait_for(lambda spans: bool(applied(spans)))
    change = applied(spans)[-1]
    assert change.kind == "CONSUMER"
    assert change.parent_id == ""
    assert change.attributes["pos.masterdata.transport"] == transport.value
    assert change.attributes["pos.catalog.kind"] == "item"
