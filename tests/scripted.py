"""Real servers on loopback that misbehave on purpose, for the failures a real master-data
cannot be made to produce on demand (a reset mid-answer, a 200 without data, a malformed
message). They speak real HTTP/1.1 and real gRPC; what they answer is scripted per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc import aio

from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    item_service_pb2,
    item_service_pb2_grpc,
)
from pos_commons.grpc_trailers import ERROR_CODE_KEY
from pos_devstack.processes import LOOPBACK, free_port

STALL = "stall"
"""Answer nothing for 30 s."""
RESET = "reset"
"""Close the connection without an answer."""

HttpAnswer = tuple[int, bytes] | str


@dataclass
class ScriptedHttpServer:
    """Answers the n-th request with answers[n] (the last one repeats)."""

    answers: list[HttpAnswer]
    seen: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode()
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.decode().partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                self.headers.append(headers)
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                answer = self.answers[min(len(self.seen), len(self.answers) - 1)]
                self.seen.append(request_line)
                if answer == STALL:
                    await asyncio.sleep(30)
                    return
                if answer == RESET:
                    writer.transport.abort()
                    return
                assert isinstance(answer, tuple)
                status, body = answer
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted_http(
    answers: list[HttpAnswer],
) -> AsyncIterator[ScriptedHttpServer]:
    scripted = ScriptedHttpServer(answers, port=free_port())
    server = await asyncio.start_server(scripted.handle, LOOPBACK, scripted.port)
    try:
        yield scripted
    finally:
        server.close()


GrpcAnswer = Callable[
    [item_service_pb2.BatchGetItemDetailsRequest, aio.ServicerContext[Any, Any]],
    Awaitable[item_service_pb2.BatchGetItemDetailsResponse],
]


def grpc_abort(status: grpc.StatusCode, code: str = "", details: str = "") -> GrpcAnswer:
    """An answer that ends the call with `status` and `code` in x-error-code."""

    async def answer(
        request: item_service_pb2.BatchGetItemDetailsRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> item_service_pb2.BatchGetItemDetailsResponse:
        if code:
            context.set_trailing_metadata(((ERROR_CODE_KEY, code),))
        await context.abort(status, details or status.name)
        raise AssertionError("abort raises")

    return answer


def grpc_reply(response: item_service_pb2.BatchGetItemDetailsResponse) -> GrpcAnswer:
    async def answer(
        request: item_service_pb2.BatchGetItemDetailsRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> item_service_pb2.BatchGetItemDetailsResponse:
        return response

    return answer


def grpc_stall() -> GrpcAnswer:
    async def answer(
        request: item_service_pb2.BatchGetItemDetailsRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> item_service_pb2.BatchGetItemDetailsResponse:
        await asyncio.sleep(30)
        raise AssertionError("stalled")

    return answer


@dataclass
class ScriptedItemService(item_service_pb2_grpc.ItemServiceServicer):
    """BatchGetItemDetails answers the n-th call with answers[n] (the last one repeats)."""

    answers: list[GrpcAnswer]
    calls: int = 0

    async def GetItemDetail(
        self,
        request: item_service_pb2.GetItemDetailRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> item_service_pb2.GetItemDetailResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "scripted: batch only")
        raise AssertionError("abort raises")

    async def BatchGetItemDetails(
        self,
        request: item_service_pb2.BatchGetItemDetailsRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> item_service_pb2.BatchGetItemDetailsResponse:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return await answer(request, context)


@asynccontextmanager
async def scripted_grpc(
    answers: list[GrpcAnswer],
) -> AsyncIterator[tuple[ScriptedItemService, str]]:
    """A real gRPC server whose ItemService follows `answers`; yields it and its target."""
    service = ScriptedItemService(answers)
    server = aio.server()
    item_service_pb2_grpc.add_ItemServiceServicer_to_server(service, server)
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    await server.start()
    try:
        yield service, f"{LOOPBACK}:{port}"
    finally:
        await server.stop(0)
