"""Benchmark of master-data's item lookup, HTTP and gRPC, against bare servers (not a test).

Starts SecantusDB, master-data (HTTP + gRPC) with the demo catalog, and three bare servers
answering the same bytes (bare grpc.aio; raw ASGI on uvicorn; one FastAPI route). With a warm
cache, it loads each target in turn, interleaved over several rounds, and prints req/s,
p50/p99 and the ratio of master-data to its floor (median of the per-round ratios, with
their spread). Every process it starts is stopped at the end.

    scripts/bench_master_data.sh [--seconds 3] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from grpc import aio

from pos_commons.grpc_stubs.pos.masterdata.v1 import item_service_pb2, item_service_pb2_grpc
from pos_devstack.processes import LOOPBACK, ManagedProcess
from pos_devstack.seed import load_demo_catalog
from pos_devstack.stack import Tokens, start_master_data, start_secantus
from pos_loadtest.benches.bare_servers import start_bare_server
from pos_loadtest.benches.closed_loop import Sample, closed_loop, median, spread
from pos_loadtest.benches.transport_clients import (
    HttpClient,
    HttpClientKind,
    HttpClientSettings,
    create_http_client,
)

ITEM = ("demo", "S001", "ITEM0007")


@dataclass
class Target:
    name: str
    call: Callable[[], Awaitable[object]]
    floors: tuple[str, ...] = ()
    """The bare servers this one is measured against."""


async def _run(options: argparse.Namespace, work: Path) -> int:
    tokens = Tokens.generate()
    processes: list[ManagedProcess] = []
    try:
        database, uri = start_secantus(":memory:", log_dir=work)
        processes.append(database)
        master = start_master_data(uri, tokens, log_dir=work)
        processes.append(master.process)
        await load_demo_catalog(master.url, tokens.admin)
        tenant, store, code = ITEM
        path = f"/api/v1/tenants/{tenant}/stores/{store}/itemDetails/{code}"
        headers = {"Authorization": f"Bearer {tokens.service}"}
        metadata = (("authorization", f"Bearer {tokens.service}"),)
        request = item_service_pb2.GetItemDetailRequest(
            tenant_id=tenant, store_code=store, item_code=code
        )

        async with httpx.AsyncClient(base_url=master.url, headers=headers) as probe:
            http_body = (await probe.get(path)).raise_for_status().content
        async with aio.insecure_channel(master.grpc_target) as probe_channel:
            stub = item_service_pb2_grpc.ItemServiceStub(probe_channel)
            item = (await stub.GetItemDetail(request, metadata=metadata)).item
            grpc_body = item_service_pb2.BatchGetItemDetailsResponse(
                items=[item]
            ).SerializeToString()
        (work / "http.json").write_bytes(http_body)
        (work / "grpc.bin").write_bytes(grpc_body)
        bare = {}
        for kind, body in (("grpc", "grpc.bin"), ("http", "http.json"), ("fastapi", "http.json")):
            process, port = start_bare_server(kind, work / body, work)
            processes.append(process)
            bare[kind] = port

        # aiohttp loads HTTP: the fastest client here, so server differences are not hidden
        # behind the client's own cost (docs/performance.md).
        load = HttpClientSettings(HttpClientKind.AIOHTTP, max_connections=options.concurrency * 2)
        real_http = create_http_client(master.url, load)
        bare_http = create_http_client(f"http://{LOOPBACK}:{bare['http']}", load)
        bare_fastapi = create_http_client(f"http://{LOOPBACK}:{bare['fastapi']}", load)
        async with (
            aio.insecure_channel(master.grpc_target) as real_channel,
            aio.insecure_channel(f"{LOOPBACK}:{bare['grpc']}") as bare_channel,
        ):
            real_stub = item_service_pb2_grpc.ItemServiceStub(real_channel)
            bare_stub = item_service_pb2_grpc.ItemServiceStub(bare_channel)

            async def grpc_real() -> object:
                return await real_stub.GetItemDetail(request, metadata=metadata, timeout=5)

            async def grpc_bare() -> object:
                return await bare_stub.GetItemDetail(request, metadata=metadata, timeout=5)

            async def http_get(client: HttpClient, target: str) -> object:
                response = await client.request("GET", target, headers=headers)
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return response

            async def http_real() -> object:
                return await http_get(real_http, path)

            async def http_bare() -> object:
                return await http_get(bare_http, "/item")

            async def http_bare_fastapi() -> object:
                return await http_get(bare_fastapi, "/item")

            targets = [
                Target("gRPC GetItemDetail (master-data)", grpc_real, ("gRPC bare grpc.aio",)),
                Target("gRPC bare grpc.aio", grpc_bare),
                Target(
                    "HTTP item detail (master-data)",
                    http_real,
                    ("HTTP bare FastAPI route", "HTTP bare ASGI (uvicorn)"),
                ),
                Target("HTTP bare FastAPI route", http_bare_fastapi),
                Target("HTTP bare ASGI (uvicorn)", http_bare),
            ]
            for target in targets:  # warm-up: caches, connections, JIT-free but pools matter
                await closed_loop(target.call, concurrency=options.concurrency, seconds=1.0)
            samples: dict[str, list[Sample]] = {t.name: [] for t in targets}
            for round_number in range(options.rounds):
                for target in targets if round_number % 2 == 0 else list(reversed(targets)):
                    samples[target.name].append(
                        await closed_loop(
                            target.call, concurrency=options.concurrency, seconds=options.seconds
                        )
                    )
        for client in (real_http, bare_http, bare_fastapi):
            await client.close()
        async with httpx.AsyncClient(base_url=master.url, headers=headers) as probe:
            cache = (await probe.get("/api/v1/stats/cache")).json()["data"]
        _report(options, targets, samples, cache)
        return 0
    finally:
        for process in reversed(processes):
            process.stop()


def _report(
    options: argparse.Namespace,
    targets: list[Target],
    samples: dict[str, list[Sample]],
    cache: dict[str, object],
) -> None:
    print(
        f"\nmaster-data item lookup, warm cache, concurrency {options.concurrency}, "
        f"{options.rounds} rounds x {options.seconds:.0f}s, medians across rounds\n"
    )
    header = f"{'target':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for target in targets:
        runs = samples[target.name]
        line = (
            f"{target.name:36} {median([s.rps for s in runs]):8.0f} "
            f"{median([s.p50_ms for s in runs]):8.2f} {median([s.p99_ms for s in runs]):8.2f} "
            f"{sum(s.errors for s in runs):6d}"
        )
        print(line)
        for floor in target.floors:
            ratios = [
                real.rps / bare.rps
                for real, bare in zip(runs, samples[floor], strict=True)
                if bare.rps
            ]
            print(f"{'':36}   {median(ratios):.2f}x the req/s of {floor} ({spread(ratios)})")
    print(f"\ncache: hit rate {cache['hitRate']}, hits {cache['hits']}, misses {cache['misses']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-md-") as work:
        return asyncio.run(_run(options, Path(work)))


if __name__ == "__main__":
    sys.exit(main())
