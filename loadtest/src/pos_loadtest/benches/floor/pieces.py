"""The pieces of cart's request path that issue #25 cut, each timed in this process against
the way it was done before, in the same run: the narrow instruments beside the whole-service
floor (runner.py).

    pos-bench-pieces [--rounds 7] [--calls 3000]

Each round times every piece and its baseline once (the order alternating by round), over
`--calls` calls each, by the process's CPU time; reported: the median microseconds per call
of each over the rounds and the ratio piece/baseline paired by round with its 95 % interval
(report/stats.py). A piece without a baseline (pricing) is timed alone. The baselines are
what the code did before, rebuilt here from public APIs (FastAPI's include_router, a
dependency on top of the terminal's, FastAPI's own handler for a route, a CartPublic built
and encoded through orjson, a lock taken under asyncio.timeout, format(value, "f")). No
threshold: a bench.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Body, Depends, FastAPI, Header, Path, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import Message

from cart.api.public import CartPublic, encoded_cart
from cart.domain.model import Cart, RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, ItemRequest, PricingPolicy, add_items, new_cart
from cart.domain.pricing import price
from cart.storage.locks import KeyedLocks
from pos_commons import deadlines
from pos_commons.admission import AdmissionLimits
from pos_commons.envelope import to_wire
from pos_commons.exposure import Exposure
from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics
from pos_commons.money import format_decimal
from pos_commons.route_plan import PlannedRoute
from pos_commons.service_app import ServiceApp, ServiceRouter
from pos_loadtest.report.format import fmt
from pos_loadtest.report.stats import Ratio, paired_ratio

Call = Callable[[], Awaitable[Any]]
POLICY = PricingPolicy(money_digits=2)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Piece:
    name: str
    call: Call
    baseline_name: str = ""
    baseline: Call | None = None


async def _cpu_us_per_call(call: Call, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


def _sync(function: Callable[[], Any]) -> Call:
    async def call() -> Any:
        return function()

    return call


# -- the cart the domain pieces work on ------------------------------------------------------


def _item(code: str, unit_price: str, rule: TaxRule) -> ItemInfo:
    return ItemInfo(
        item_code=code, description=f"Item {code}", short_description=code,
        category_code="C", effective_price=Decimal(unit_price), is_discount_restricted=False,
        is_deleted=False, tax_rule=rule, unit_price=Decimal(unit_price), store_price=None,
    )  # fmt: skip


def sale_cart(lines: int) -> tuple[Cart, dict[str, ItemInfo]]:
    """A cart of `lines` lines under two tax rules, and the catalog it was scanned from (one
    item more), as the locust scenario builds them: one line per call."""
    rules = [
        TaxRule(tax_code=code, name=code, tax_type=kind, rate=Decimal(rate),
                rounding_digits=0, rounding_method=RoundingMethod.HALF_UP)
        for code, kind, rate in (("T1", TaxType.EXTERNAL, "10"), ("T2", TaxType.INTERNAL, "8"))
    ]  # fmt: skip
    catalog = {f"I{n}": _item(f"I{n}", f"{100 + n}.50", rules[n % 2]) for n in range(lines + 1)}
    cart = new_cart("c" * 32, "t", "S001", 1, NOW, NOW + timedelta(hours=1), POLICY)
    for n in range(lines):
        cart = add_items(cart, [ItemRequest(f"I{n}", 2)], catalog, POLICY)
    return cart, catalog


# -- routes through FastAPI ------------------------------------------------------------------


async def _asgi(app: Any, path: str, body: bytes = b"") -> Call:
    """One POST of `path` (with a JSON `body`) through `app`, as uvicorn calls it (no
    network)."""
    headers = [
        (b"host", b"cart"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-api-key", b"pos_key"),
    ]
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": headers, "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 9),
    }  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def call() -> None:
        await app(dict(scope, app=app), receive, send)

    await call()  # the middleware stack is built on the first call
    if statuses != [200]:  # a route that refuses the call would time its refusal
        raise RuntimeError(f"{path} answered {statuses}")
    statuses.clear()
    return call


_CART_PATH = "/api/v1/carts/" + "c" * 32


def _service_app() -> ServiceApp:
    return ServiceApp(
        metrics=HttpMetrics(CollectorRegistry()),
        access_log=False,
        max_request_bytes=65_536,
        lifecycle=Lifecycle(),
        exposure=Exposure(docs=False, metrics_open=False, metrics_token=None),
        admission=AdmissionLimits(max_concurrent=64, queue_seconds=1.0, request_seconds=5.0),
    )


def _cart_like_router() -> ServiceRouter:
    # FastAPI's handler for both ways of serving: the piece times the routing alone.
    router = ServiceRouter(prefix="/api/v1", route_class=APIRoute)
    for n in range(16):

        async def change(cart_id: str) -> Response:
            return Response(b"{}")

        router.add_api_route(f"/carts/{{cart_id}}/change{n}", change, methods=["POST"])
    return router


async def routing() -> Piece:
    added, included = _service_app(), _service_app()
    added.add_routers(_cart_like_router())
    included.include_router(_cart_like_router())
    return Piece(
        "a change route among 16, served as the app's own (add_routers)",
        await _asgi(added, _CART_PATH + "/change12"),
        "through FastAPI's include_router",
        await _asgi(included, _CART_PATH + "/change12"),
    )


class _Key(APIKeyHeader):
    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        return request.headers.get("x-api-key") or ""


class _KeyAndChanges(_Key):
    async def __call__(  # type: ignore[override]
        self, request: Request, key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
    ) -> tuple[str, str | None]:
        return await super().__call__(request), key


_SCHEME: dict[str, Any] = {"name": "X-API-Key", "auto_error": False, "scheme_name": "key"}
_Terminal = Annotated[str, Security(_Key(**_SCHEME))]
_Changes = Annotated[tuple[str, str | None], Security(_KeyAndChanges(**_SCHEME))]


async def _on_top(
    request: Request,
    who: _Terminal,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> tuple[str, str | None]:
    return who, key


_OnTop = Annotated[tuple[str, str | None], Depends(_on_top)]


async def dependencies() -> Piece:
    one = FastAPI()
    nested = FastAPI()

    @one.post("/api/v1/carts/{cart_id}/subtotal")
    async def with_one(cart_id: str, changes: _Changes) -> Response:
        return Response(b"{}")

    @nested.post("/api/v1/carts/{cart_id}/subtotal")
    async def with_two(cart_id: str, changes: _OnTop) -> Response:
        return Response(b"{}")

    return Piece(
        "a change route's one dependency: the key's scheme resolving to the changes",
        await _asgi(one, _CART_PATH + "/subtotal"),
        "a dependency on top of the terminal's",
        await _asgi(nested, _CART_PATH + "/subtotal"),
    )


class _Item(BaseModel):
    item_code: str = Field(alias="itemCode", min_length=1, max_length=20)
    quantity: int = Field(default=1, ge=1, le=9999)


def _scan_router(route_class: type[APIRoute]) -> ServiceRouter:
    router = ServiceRouter(prefix="/api/v1", route_class=route_class)

    @router.post("/carts/{cart_id}/lineItems")
    async def add_line_items(
        changes: _Changes,
        cart_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
        items: Annotated[list[_Item], Body(min_length=1, max_length=100)],
    ) -> Response:
        return Response(b"{}")

    return router


async def plan() -> Piece:
    planned, generic = _service_app(), _service_app()
    planned.add_routers(_scan_router(PlannedRoute))
    generic.add_routers(_scan_router(APIRoute))
    body = b'[{"itemCode": "ITEM0001", "quantity": 2}]'
    return Piece(
        "a scan's parameters and body solved by its route's plan (PlannedRoute)",
        await _asgi(planned, _CART_PATH + "/lineItems", body),
        "by FastAPI's handler",
        await _asgi(generic, _CART_PATH + "/lineItems", body),
    )


# -- in-process pieces -----------------------------------------------------------------------


def answer(cart: Cart) -> Piece:
    return Piece(
        "a cart's answer: encoded_cart (the stored cart, without what CartPublic hides)",
        _sync(lambda: encoded_cart(cart)),
        "CartPublic.of, then orjson over to_wire",
        _sync(lambda: orjson.dumps(to_wire(CartPublic.of(cart)))),
    )


def locks() -> Piece:
    keyed = KeyedLocks(max_waiters=8)
    plain = asyncio.Lock()

    async def hold() -> None:
        async with keyed.hold("c"):
            pass

    async def timed() -> None:
        async with asyncio.timeout(5):
            await plain.acquire()
        plain.release()

    return Piece(
        "a free cart's lock: KeyedLocks.hold", hold, "a lock taken under asyncio.timeout", timed
    )


def amounts() -> Piece:
    value = Decimal("1234.50")
    return Piece(
        "an amount written: format_decimal",
        _sync(lambda: format_decimal(value)),
        'format(value, "f")',
        _sync(lambda: format(value, "f")),
    )


def pricing(cart: Cart, catalog: dict[str, ItemInfo]) -> list[Piece]:
    extra = next(code for code in catalog if all(line.item_code != code for line in cart.lines))
    request = [ItemRequest(extra, 1)]
    return [
        Piece(f"price() of a priced {len(cart.lines)}-line cart", _sync(lambda: price(cart, 2))),
        Piece(
            f"add_items: one line to a {len(cart.lines)}-line cart",
            _sync(lambda: add_items(cart, request, catalog, POLICY)),
        ),
    ]


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    us: float
    baseline_name: str
    baseline_us: float
    ratio: Ratio | None


async def measure(rounds: int, calls: int) -> list[Row]:
    deadlines.start(60)  # the locks piece runs as a request would, within a budget
    cart, catalog = sale_cart(lines=4)
    pieces = [
        await routing(),
        await dependencies(),
        await plan(),
        answer(cart),
        locks(),
        amounts(),
        *pricing(cart, catalog),
    ]
    times: dict[str, list[float]] = {piece.name: [] for piece in pieces}
    baselines: dict[str, list[float]] = {piece.name: [] for piece in pieces}
    for round_no in range(rounds):
        for piece in pieces:
            contenders = [(times, piece.call)]
            if piece.baseline is not None:
                contenders.append((baselines, piece.baseline))
            if round_no % 2:
                contenders.reverse()
            for into, call in contenders:
                into[piece.name].append(await _cpu_us_per_call(call, calls))
    rows = []
    for piece in pieces:
        mine, base = times[piece.name], baselines[piece.name]
        rows.append(
            Row(
                piece.name,
                statistics.median(mine),
                piece.baseline_name,
                statistics.median(base) if base else float("nan"),
                paired_ratio(mine, base) if base else None,
            )
        )
    return rows


def summary(rows: Sequence[Row], rounds: int, calls: int) -> str:
    lines = [
        f"{rounds} rounds of {calls} calls each; CPU microseconds per call, median over rounds",
        "",
        "| piece | us | baseline | us | piece / baseline |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = (
            "-"
            if row.ratio is None
            else f"**{fmt(row.ratio.value, 2)}** ({fmt(row.ratio.low, 2)}-{fmt(row.ratio.high, 2)})"
        )
        baseline = (row.baseline_name, fmt(row.baseline_us, 1)) if row.baseline_name else ("-",) * 2
        lines.append(f"| {row.name} | {fmt(row.us, 1)} | {baseline[0]} | {baseline[1]} | {ratio} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3000, help="calls per timing")
    options = parser.parse_args(argv)
    rows = asyncio.run(measure(options.rounds, options.calls))
    print(summary(rows, options.rounds, options.calls))


if __name__ == "__main__":
    main()
