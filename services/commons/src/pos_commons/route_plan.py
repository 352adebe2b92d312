"""A route's request solved by a plan made once, when the route is built, rather than by
FastAPI's generic solver on every request.

FastAPI's handler walks the route's whole dependency tree per request: a scratch response
for dependencies to set headers on, each dependency's cache key (its security scopes
included), the query string and cookies parsed whether or not anything declares one, its
telemetry hooks. For the shape of route the services declare (path, query, header and
cookie parameters, a JSON body, dependencies that are coroutines declaring only such
parameters themselves, an endpoint that answers a `Response`) the plan does the same steps in
the same order with FastAPI's own validators (`request_params_to_args`,
`request_body_to_args`), so what it accepts, refuses and answers is FastAPI's to the letter
(tests/unit/commons/test_route_plan.py holds the two side by side). A route of any other
shape, and every route while `dependency_overrides` are set, is served by FastAPI's handler.
What the plan leaves out is FastAPI's own telemetry of a solved request (its operation spans,
the data its log processors read), which the services turn off (pos_commons.instrumentation);
the server span, made by FastAPI's middleware, is unchanged. docs/performance.md: what it saves.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi._compat import ModelField
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant

# FastAPI's own readers of a request's parameters, so that what is accepted and refused, and
# how a refusal reads, stay FastAPI's (some are private: tests/unit/commons/test_route_plan.py
# holds the plan to FastAPI's handler, so an upgrade that changes them fails there).
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _get_param_model,
    _is_json_field,
    _validate_value_with_model_field,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute, _effective_route_context_var
from pydantic_core import PydanticUndefined as Undefined
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Solved = tuple[dict[str, Any], list[Any]]


def _is_coroutine(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or (
        not inspect.isfunction(call)
        and not inspect.isclass(call)
        and inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    )


def _answers_a_response(call: Callable[..., Any]) -> bool:
    try:
        answer = inspect.signature(call, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return False
    return inspect.isclass(answer) and issubclass(answer, Response)


def _plain(dependant: Dependant) -> bool:
    """Parameters and the request only: nothing a plan does not do itself."""
    return not (
        dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.concurrency is not None
    )


def is_json(content_type: str) -> bool:
    """As FastAPI reads a Content-Type: application/json or application/*+json (a value
    that is not one type/subtype pair is text/plain, RFC 2045)."""
    kind = content_type.partition(";")[0].strip().lower()
    if kind.count("/") != 1:
        return False
    main, _, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def _json_body(request: Request, strict_content_type: bool) -> Any:
    """The body as FastAPI's handler hands it to the validators: decoded JSON when the
    Content-Type says JSON (or there is none and the route is not strict about it), else
    the bytes; `Undefined` when empty. Malformed JSON is a validation error (422), a body
    that cannot be read at all a 400."""
    try:
        raw = await request.body()
        if not raw:
            return Undefined
        content_type = request.headers.get("content-type")
        if content_type is None or content_type == "":
            return raw if strict_content_type else await request.json()
        return await request.json() if is_json(content_type) else raw
    except json.JSONDecodeError as error:
        problem = {
            "type": "json_invalid",
            "loc": ("body", error.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": error.msg},
        }
        raise RequestValidationError([problem], body=error.doc) from error
    except HTTPException:
        raise
    except Exception as error:
        raise HTTPException(400, detail="There was an error parsing the body") from error


class _Parameter:
    """A declared path, query, header or cookie parameter, read as FastAPI's
    `request_params_to_args` reads it, with what that asks of the declaration on every
    request (its aliases, whether it is a model or a sequence) asked once."""

    def __init__(self, field: ModelField) -> None:
        self.field = field
        self.simple = not (
            _get_param_model(field) is not None
            or _is_json_field(field)
            or field_annotation_is_sequence(field.field_info.annotation)
        )
        self.keys = [key for _, key in _get_param_aliases(field)]
        self.where: str = field.field_info.in_.value  # type: ignore[attr-defined]

    def read(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        if not self.simple:
            _add(request_params_to_args([self.field], received), values, errors)
            return
        key = next((key for key in self.keys if key in received), self.keys[0])
        value = received.get(key)
        checked, problems = _validate_value_with_model_field(
            field=self.field,
            value=Undefined if value is None else value,
            values={},
            loc=(self.where, key),
        )
        if problems:
            errors.extend(problems)
        else:
            values[self.field.name] = checked


class _Parameters:
    """A dependant's parameters, and where it asks for the request."""

    def __init__(self, dependant: Dependant) -> None:
        self.path = [_Parameter(field) for field in dependant.path_params]
        self.query = [_Parameter(field) for field in dependant.query_params]
        self.header = [_Parameter(field) for field in dependant.header_params]
        self.cookie = [_Parameter(field) for field in dependant.cookie_params]
        self.request_names = [
            name
            for name in (dependant.http_connection_param_name, dependant.request_param_name)
            if name
        ]

    def solve(self, request: Request, values: dict[str, Any], errors: list[Any]) -> None:
        """In FastAPI's order: path, query, header, cookie."""
        for parameter in self.path:
            parameter.read(request.path_params, values, errors)
        for parameter in self.query:
            parameter.read(request.query_params, values, errors)
        for parameter in self.header:
            parameter.read(request.headers, values, errors)
        for parameter in self.cookie:
            parameter.read(request.cookies, values, errors)
        for name in self.request_names:
            values[name] = request


def _add(solved: Solved, values: dict[str, Any], errors: list[Any]) -> None:
    values.update(solved[0])
    errors.extend(solved[1])


@dataclass(frozen=True)
class _Dependency:
    name: str
    call: Callable[..., Awaitable[Any]]
    parameters: _Parameters


class RoutePlan:
    """How one route's request is solved: its dependencies' parameters and calls, then its
    own parameters and body, then the endpoint."""

    def __init__(self, route: APIRoute) -> None:
        self._parameters = _Parameters(route.dependant)
        self._dependencies = [
            _Dependency(sub.name, sub.call, _Parameters(sub))  # type: ignore[arg-type]
            for sub in route.dependant.dependencies
        ]
        self._endpoint: Callable[..., Awaitable[Response]] = route.dependant.call  # type: ignore[assignment]
        self._body_params = list(route.dependant.body_params)
        self._reads_body = route.body_field is not None
        self._embed_body_fields: bool = route._embed_body_fields
        strict = route.strict_content_type
        self._strict_content_type = bool(getattr(strict, "value", strict))

    @classmethod
    def of(cls, route: APIRoute) -> RoutePlan | None:
        """The plan of `route`, or None when its shape is one the plan does not cover."""
        dependant = route.dependant
        if route.body_field is not None and isinstance(route.body_field.field_info, Form):
            return None
        endpoint = dependant.call
        if endpoint is None or not _is_coroutine(endpoint) or not _answers_a_response(endpoint):
            return None
        if route.stream_item_field is not None or route.is_json_stream:
            return None
        calls = [sub.call for sub in dependant.dependencies]
        if len(set(map(id, calls))) != len(calls):  # one solved twice: FastAPI's cache
            return None
        if not _plain(dependant):
            return None
        for sub in dependant.dependencies:
            if (
                sub.dependencies
                or sub.body_params
                or sub.name is None
                or not _plain(sub)
                or not _is_coroutine(sub.call)
            ):
                return None
        return cls(route)

    async def solve(self, request: Request) -> Response:
        body = Undefined
        if self._reads_body:
            body = await _json_body(request, self._strict_content_type)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for dependency in self._dependencies:
            arguments: dict[str, Any] = {}
            problems: list[Any] = []
            dependency.parameters.solve(request, arguments, problems)
            if problems:
                errors.extend(problems)
                continue
            values[dependency.name] = await dependency.call(**arguments)
        self._parameters.solve(request, values, errors)
        if self._body_params:
            _add(
                await request_body_to_args(
                    body_fields=self._body_params,
                    received_body=body,
                    embed_body_fields=self._embed_body_fields,
                ),
                values,
                errors,
            )
        if errors:
            raise RequestValidationError(errors, body=None if body is Undefined else body)
        response = await self._endpoint(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{self._endpoint.__name__} answered {type(response).__name__}")
        return response


class PlannedRoute(APIRoute):
    """An APIRoute whose requests a `RoutePlan` solves where the route's shape allows.

    A route served through `include_router` is built again with what the including routers
    add (their dependencies among them): FastAPI's handler serves it, with all of that.
    """

    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        included = _effective_route_context_var.get() is not None
        plan = None if included else RoutePlan.of(self)
        if plan is None:
            return generic
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await generic(request)
            return await plan.solve(request)

        return handler
