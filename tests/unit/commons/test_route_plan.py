"""pos_commons.route_plan against FastAPI's own handler: the same routes declared twice, once
as FastAPI's APIRoute and once as PlannedRoute, side by side in one app (FastAPI's default
error answers, which carry every validation error whole), asked the same requests; the
answers must be the same to the byte. Then: which shapes a plan covers, and that cart's
terminal routes are all planned (the hot path stays off FastAPI's generic solver)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Cookie,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Security,
)
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from pos_commons.route_plan import PlannedRoute, RoutePlan, is_json


class Item(BaseModel):
    code: str = Field(min_length=1, max_length=8)
    quantity: int = Field(default=1, ge=1, le=99)


class Caller(APIKeyHeader):
    """A security scheme resolving to its caller, with a header parameter of its own, as
    cart's terminal key resolves to the terminal's changes."""

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        tag: Annotated[str | None, Header(alias="X-Tag", max_length=5)] = None,
    ) -> str:
        key = request.headers.get("x-api-key")
        if key != "good":
            raise HTTPException(401, "A good key, please.")
        return f"{key}:{tag}"


CallerOf = Annotated[str, Security(Caller(name="X-API-Key", auto_error=False))]
ThingId = Annotated[str, Path(pattern=r"^[0-9a-f]{4}$")]


def _answer(**values: Any) -> Response:
    return JSONResponse({name: _plain(value) for name, value in values.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(each) for each in value]
    return value


async def _read_later() -> AsyncIterator[str]:
    yield "read"


def _routes(router: APIRouter) -> APIRouter:
    @router.post("/things")
    async def create(caller: CallerOf) -> Response:
        return _answer(caller=caller)

    @router.post("/things/{thing_id}/items", status_code=201)
    async def add(caller: CallerOf, thing_id: ThingId, items: list[Item]) -> Response:
        return _answer(caller=caller, thing=thing_id, items=items)

    @router.patch("/things/{thing_id}/lines/{line_no}")
    async def change(
        caller: CallerOf,
        thing_id: ThingId,
        line_no: Annotated[int, Path(ge=1, le=100)],
        item: Item,
        limit: Annotated[int, Query(ge=1)] = 10,
        session: Annotated[str | None, Cookie()] = None,
        x_trace: Annotated[str | None, Header()] = None,
    ) -> Response:
        return _answer(
            caller=caller, thing=thing_id, line=line_no, item=item, limit=limit,
            session=session, trace=x_trace,
        )  # fmt: skip

    @router.put("/things/{thing_id}/note")
    async def note(thing_id: ThingId, item: Item | None = None) -> Response:
        return _answer(thing=thing_id, item=item)

    @router.get("/tags")
    async def tags(tag: Annotated[list[str], Query()] = []) -> Response:  # noqa: B006
        return _answer(tags=tag)

    @router.post("/things/{thing_id}/embedded")
    async def embedded(thing_id: ThingId, item: Item, other: Item) -> Response:
        return _answer(thing=thing_id, item=item, other=other)

    @router.post("/later")
    async def later(tasks: BackgroundTasks) -> Response:
        return _answer()

    @router.get("/generated")
    async def generated(read: Annotated[str, Depends(_read_later)]) -> Response:
        return _answer(read=read)

    @router.get("/model")
    async def model() -> Item:
        return Item(code="m")

    return router


def _app() -> FastAPI:
    app = FastAPI()
    # As ServiceApp.add_routers serves them: the routes as declared, not included.
    for prefix, route_class in (("/fastapi", APIRoute), ("/planned", PlannedRoute)):
        app.router.routes.extend(_routes(APIRouter(prefix=prefix, route_class=route_class)).routes)
    return app


GOOD = {"X-API-Key": "good"}
JSON = {"Content-Type": "application/json"}
THING = "/things/0a1f"
COOKIE_AND_TRACE = {"Cookie": "session=s1", "X-Trace": "t"}

REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    # what the endpoints take
    ("POST", "/things", GOOD, None),
    ("POST", "/things", {**GOOD, "X-Tag": "front"}, None),
    ("POST", THING + "/items", {**GOOD, **JSON}, b'[{"code": "A1", "quantity": 2}, {"code": "B"}]'),
    ("POST", THING + "/items", {**GOOD, "Content-Type": "application/vnd.pos+json"}, b"[]"),
    ("PATCH", THING + "/lines/3?limit=4", {**GOOD, **JSON, **COOKIE_AND_TRACE}, b'{"code": "C"}'),
    ("PUT", THING + "/note", JSON, b'{"code": "N"}'),
    ("PUT", THING + "/note", JSON, b"null"),
    ("PUT", THING + "/note", {}, None),
    ("GET", "/tags?tag=a&tag=b", {}, None),
    ("GET", "/tags", {}, None),
    ("POST", THING + "/embedded", JSON, b'{"item": {"code": "I"}, "other": {"code": "O"}}'),
    ("POST", "/later", {}, None),
    ("GET", "/generated", {}, None),
    ("GET", "/model", {}, None),
    # the key refused: before any parameter or body is looked at
    ("POST", THING + "/items", JSON, b"not json"),
    ("POST", THING + "/items", {"X-API-Key": "bad", **JSON}, b"[]"),
    # parameters refused
    ("POST", "/things/XYZ/items", {**GOOD, **JSON}, b"[]"),
    ("POST", "/things", {**GOOD, "X-Tag": "too long"}, None),
    ("POST", "/things", {"X-API-Key": "bad", "X-Tag": "too long"}, None),  # not called
    ("PATCH", THING + "/lines/0?limit=0", {**GOOD, **JSON}, b'{"code": "C"}'),
    ("PATCH", "/things/nope/lines/x", {**GOOD, "X-Tag": "long tag", **JSON}, b"{}"),
    # bodies refused
    ("POST", THING + "/items", {**GOOD, **JSON}, b'[{"code": "", "quantity": 0}]'),
    ("POST", THING + "/items", {**GOOD, **JSON}, b'{"code": "A"}'),
    ("POST", THING + "/items", {**GOOD, **JSON}, b"[{"),
    ("POST", THING + "/items", {**GOOD, **JSON}, b"\xff\xfe["),
    ("POST", THING + "/items", {**GOOD, **JSON}, b""),
    ("POST", THING + "/items", GOOD, b"[]"),
    ("POST", THING + "/items", {**GOOD, "Content-Type": "text/plain"}, b"[]"),
    ("POST", THING + "/items", {**GOOD, "Content-Type": "json"}, b"[]"),
    ("POST", THING + "/items", {**GOOD, "Content-Type": "application/json/x"}, b"[]"),
    ("PATCH", THING + "/lines/2", {**GOOD, **JSON}, b"null"),
    ("POST", THING + "/embedded", JSON, b'{"item": {"code": "I"}}'),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), REQUESTS)
async def test_a_planned_route_answers_as_fastapis_handler(
    method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answers = [
            await client.request(method, prefix + path, headers=headers, content=body)
            for prefix in ("/fastapi", "/planned")
        ]
    fastapi, planned = answers
    assert (planned.status_code, planned.content) == (fastapi.status_code, fastapi.content)
    assert planned.headers.multi_items() == fastapi.headers.multi_items()


def _route(name: str, route_class: type[APIRoute] = PlannedRoute) -> APIRoute:
    routes = _routes(APIRouter(route_class=route_class)).routes
    return next(route for route in routes if isinstance(route, APIRoute) and route.name == name)


@pytest.mark.parametrize("name", ["create", "add", "change", "note", "tags", "embedded"])
def test_parameters_bodies_and_a_scheme_with_parameters_are_planned(name: str) -> None:
    assert RoutePlan.of(_route(name)) is not None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("later", "a BackgroundTasks parameter"),
        ("generated", "a generator dependency"),
        ("model", "an answer FastAPI serializes"),
    ],
)
def test_other_shapes_are_left_to_fastapi(name: str, why: str) -> None:
    assert RoutePlan.of(_route(name)) is None, why


async def test_an_included_route_is_served_by_fastapi_with_its_routers_dependencies() -> None:
    async def refuse() -> None:
        raise HTTPException(403, "Not through this router.")

    app = FastAPI()
    app.include_router(_routes(APIRouter(route_class=PlannedRoute)), dependencies=[Depends(refuse)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.post("/things", headers=GOOD)
    assert (answer.status_code, answer.json()) == (403, {"detail": "Not through this router."})


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/problem+json", True),
        ("application/+json", True),
        ("application/jsonx", False),
        ("application/json/x", False),
        ("text/json", False),
        ("json", False),
    ],
)
def test_json_content_types_as_fastapi_reads_them(content_type: str, json: bool) -> None:
    assert is_json(content_type) is json


def test_cart_terminal_routes_are_all_planned() -> None:
    from cart.api import carts

    routes = [route for route in carts.router.routes if isinstance(route, APIRoute)]
    assert routes
    assert [route.path for route in routes if RoutePlan.of(route) is None] == []
