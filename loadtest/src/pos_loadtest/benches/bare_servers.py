"""Bare servers, the floor of a bench: the same bytes as the real service, and no work at all.

``python -m pos_loadtest.benches.bare_servers grpc PORT FILE`` serves ItemService (both methods) and
``... http PORT FILE`` (raw ASGI) or ``... fastapi PORT FILE`` (one FastAPI route) serve
any GET path, each answering with the bytes stored in FILE (a
real master-data response captured by the benchmark), on the same loop (uvloop) and server
stack as master-data. What a benchmark compares against them is then only our own code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import grpc
import uvicorn
import uvloop
from grpc import aio

from pos_commons.grpc_stubs.pos.masterdata.v1 import item_service_pb2
from pos_devstack.processes import ManagedProcess, free_port, python_module

LOOPBACK = "127.0.0.1"


async def _serve_grpc(port: int, body: bytes) -> None:
    # FILE holds a BatchGetItemDetailsResponse; GetItemDetail answers with its first item.
    batch = item_service_pb2.BatchGetItemDetailsResponse.FromString(body)
    single = item_service_pb2.GetItemDetailResponse(item=batch.items[0])

    async def get_item_detail(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        return single

    async def batch_get(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        return batch

    handler = grpc.method_handlers_generic_handler(
        "pos.masterdata.v1.ItemService",
        {
            "GetItemDetail": grpc.unary_unary_rpc_method_handler(
                get_item_detail,
                request_deserializer=item_service_pb2.GetItemDetailRequest.FromString,
                response_serializer=item_service_pb2.GetItemDetailResponse.SerializeToString,
            ),
            "BatchGetItemDetails": grpc.unary_unary_rpc_method_handler(
                batch_get,
                request_deserializer=item_service_pb2.BatchGetItemDetailsRequest.FromString,
                response_serializer=item_service_pb2.BatchGetItemDetailsResponse.SerializeToString,
            ),
        },
    )
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"{LOOPBACK}:{port}")
    await server.start()
    await server.wait_for_termination()


def _http_app(body: bytes) -> Any:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _fastapi_app(body: bytes) -> Any:
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/item")
    async def item() -> Response:
        return Response(body, media_type="application/json")

    return app


def start_bare_server(kind: str, body: Path, log_dir: Path) -> tuple[ManagedProcess, int]:
    """Starts a bare server (grpc, http or fastapi) on a free port; returns it, and the port."""
    port = free_port()
    process = ManagedProcess(
        f"bare-{kind}",
        python_module("pos_loadtest.benches.bare_servers", kind, str(port), str(body)),
        env={},
        log_path=log_dir / f"bare-{kind}.log",
    ).start()
    process.wait_for_port(port)
    return process, port


def main(argv: list[str]) -> int:
    kind, port, path = argv[0], int(argv[1]), Path(argv[2])
    body = path.read_bytes()
    if kind == "grpc":
        uvloop.run(_serve_grpc(port, body))
    elif kind in ("http", "fastapi"):
        app = _http_app(body) if kind == "http" else _fastapi_app(body)
        uvicorn.run(
            app, host=LOOPBACK, port=port, loop="uvloop", http="httptools",
            log_level="warning", access_log=False,
        )  # fmt: skip
    else:
        raise SystemExit(f"unknown bare server {kind!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
