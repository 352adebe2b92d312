"""What every call to master-data's gRPC server goes through besides its servicer: the caller's
request id and bearer token (authorize_call), the access log line (AccessLogInterceptor), and
an error's gRPC status with its stable code in trailing metadata (abort_with)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from pos_commons.auth import Role, TokenVerifier
from pos_commons.errors import AppError
from pos_commons.grpc_trailers import ERROR_CODE_KEY
from pos_commons.request_context import REQUEST_ID_HEADER, accept_request_id, request_id_var

_log = logging.getLogger(__name__)

_STATUS_BY_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_status_of(error: AppError) -> grpc.StatusCode:
    return _STATUS_BY_HTTP.get(error.status_code, grpc.StatusCode.INTERNAL)


async def abort_with(context: aio.ServicerContext[Any, Any], error: AppError) -> None:
    """Ends the call with the gRPC status of `error` and its code in trailing metadata."""
    context.set_trailing_metadata(((ERROR_CODE_KEY, error.code),))
    await context.abort(grpc_status_of(error), error.message)


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item_key, value in metadata or ():
        if item_key == key:
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def authorize_call(context: aio.ServicerContext[Any, Any], verifier: TokenVerifier) -> None:
    """Adopts the caller's request id and checks its bearer token (the service token or the
    admin token); raises UnauthenticatedError. Called at the start of every protected RPC.

    Done in the servicer rather than by a grpc.aio server interceptor, which costs a
    measurable share of a cached lookup's throughput (docs/performance.md has the figure).
    """
    metadata = context.invocation_metadata()
    request_id_var.set(accept_request_id(_metadata_value(metadata, REQUEST_ID_HEADER)))
    verifier.authorize(_metadata_value(metadata, "authorization"), Role.READER)


_access_log = logging.getLogger("pos.access")


def _logged(
    method: str, handler: grpc.RpcMethodHandler[Any, Any]
) -> grpc.RpcMethodHandler[Any, Any]:
    # The servicer's coroutine function (typed for sync servers in the stubs).
    behaviour: Any = handler.unary_unary

    async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        outcome = "OK"
        try:
            return await behaviour(request, context)
        except BaseException:
            outcome = "ERROR"
            raise
        finally:
            _access_log.info(
                "gRPC %s %s %.1fms", method, outcome, (time.perf_counter() - started) * 1000
            )

    return grpc.unary_unary_rpc_method_handler(
        call,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class AccessLogInterceptor(aio.ServerInterceptor):
    """With ACCESS_LOG on: one log line per unary call, with its request id."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        metadata = handler_call_details.invocation_metadata
        request_id_var.set(accept_request_id(_metadata_value(metadata, REQUEST_ID_HEADER)))
        handler = await continuation(handler_call_details)
        if handler is not None and handler.unary_unary is not None:
            return _logged(handler_call_details.method, handler)
        return handler
