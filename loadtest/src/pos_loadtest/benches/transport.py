"""Transport benchmark: cart's master-data repositories against bare client/server pairs.

Calls each repository cart can be configured with (HTTP and gRPC) directly, and cart's HTTP
repository over two other client libraries as well (httpx, httpx over aiohttp:
benches/transport_clients.py), against a real master-data with a warm cache, asking for one
item as cart does when a terminal scans it. Next to them, in the same run and on the same
machine, bare pairs exchanging the very same bytes and doing nothing else: a grpc.aio stub
calling a grpc.aio server that returns a constant message, and each HTTP library calling a
raw ASGI server (uvicorn, httptools, uvloop) that returns constant JSON. Concurrency 1, 8 and 64;
targets interleaved over rounds; medians reported with each repository's ratio to its
floor (its bare pair). Next to throughput, what each call costs in CPU (psutil) over the same
window: the client's (this process, all its threads) and the server's. That ratio (the bare
pair's CPU per call over the repository's) is far steadier on a shared machine than
throughput, whose ratio is the goal's. With --client-side, "its client side only" rows run
the same repository against the bare server: the gap between them and the bare pair is
cart's own cost, the rest is master-data's. Not a test: nothing here has a timing threshold.

    scripts/bench_transport.sh [--seconds 1.5] [--rounds 3] [--concurrency 1,8,64]
                               [--client-side]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop
from grpc import aio

from cart.masterdata.failures import Retrier, RetryPolicy
from cart.masterdata.grpc_adapter import GrpcMasterDataRepository, MasterDataChannel
from cart.masterdata.http_adapter import HttpMasterDataRepository, HttpSettings, service_headers
from cart.masterdata.repository import MasterDataRepository
from pos_commons.grpc_stubs.pos.masterdata.v1 import item_service_pb2, item_service_pb2_grpc
from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK, ManagedProcess
from pos_devstack.seed import DEMO_STORE, load_demo_catalog
from pos_devstack.stack import Tokens, start_master_data, start_secantus
from pos_loadtest.benches.bare_servers import start_bare_server
from pos_loadtest.benches.closed_loop import Sample, closed_loop, median, median_ratio
from pos_loadtest.benches.transport_clients import (
    BenchHttpRepository,
    HttpClient,
    HttpClientKind,
    HttpClientSettings,
    create_http_client,
)
from pos_loadtest.probes.cpu import cpu_seconds
from pos_loadtest.probes.process import command_line

TENANT, ITEM = "demo", "ITEM0007"
GOAL_CONCURRENCY = 8
GOAL_RATIO = 0.8


@dataclass
class Target:
    name: str
    call: Callable[[], Awaitable[object]]
    server_pid: int
    """The process that answers it (master-data or a bare server): its CPU is counted."""
    floor: str | None = None
    """The bare pair this one is measured against (its floor)."""


@dataclass
class Measured:
    sample: Sample
    client_cpu_us: float
    """CPU per answered call of this process, the client (all its threads)."""
    server_cpu_us: float

    @property
    def cpu_us(self) -> float:
        return self.client_cpu_us + self.server_cpu_us


async def _measure(target: Target, concurrency: int, seconds: float) -> Measured:
    client_before, server_before = time.process_time(), cpu_seconds(target.server_pid)
    sample = await closed_loop(target.call, concurrency=concurrency, seconds=seconds)
    client = time.process_time() - client_before
    server = cpu_seconds(target.server_pid) - server_before
    calls = max(sample.requests, 1)
    return Measured(sample, client / calls * 1e6, server / calls * 1e6)


async def _capture(master_url: str, grpc_target: str, token: str, work: Path) -> tuple[Path, Path]:
    """The exact bytes master-data answers for the lookup, for the bare servers to replay."""
    client = create_http_client(master_url, HttpClientSettings())
    try:
        response = await client.request(
            "GET",
            f"/api/v1/tenants/{TENANT}/stores/{DEMO_STORE}/itemDetails",
            params={"codes": ITEM},
            headers=service_headers(token),
        )
    finally:
        await client.close()
    assert response.status == 200, response.body
    async with aio.insecure_channel(grpc_target) as channel:
        stub = item_service_pb2_grpc.ItemServiceStub(channel)
        request = item_service_pb2.BatchGetItemDetailsRequest(
            tenant_id=TENANT, store_code=DEMO_STORE, item_codes=[ITEM]
        )
        message = await stub.BatchGetItemDetails(
            request, metadata=(("authorization", f"Bearer {token}"),)
        )
    json_path, grpc_path = work / "batch.json", work / "batch.bin"
    json_path.write_bytes(response.body)
    grpc_path.write_bytes(message.SerializeToString())
    return json_path, grpc_path


def _check(found: object) -> object:
    if not found:
        raise RuntimeError("the lookup found nothing")
    return found


async def _run(options: argparse.Namespace, work: Path) -> int:
    tokens = Tokens.generate()
    processes: list[ManagedProcess] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        database, uri = start_secantus(":memory:", log_dir=work)
        processes.append(database)
        master = start_master_data(uri, tokens, log_dir=work)
        processes.append(master.process)
        await load_demo_catalog(master.url, tokens.admin)
        json_body, grpc_body = await _capture(master.url, master.grpc_target, tokens.service, work)
        http_bare, http_port = await asyncio.to_thread(
            _start_and_track, "http", json_body, work, processes
        )
        grpc_bare_server, grpc_port = await asyncio.to_thread(
            _start_and_track, "grpc", grpc_body, work, processes
        )
        real = master.process.pid

        bare_grpc = MasterDataChannel(f"{LOOPBACK}:{grpc_port}")
        grpc_retrier = Retrier(Transport.GRPC, 5.0, RetryPolicy())
        grpc_repo = GrpcMasterDataRepository(
            MasterDataChannel(master.grpc_target), tokens.service, grpc_retrier
        )
        # The same repository against the bare server: our client-side cost alone.
        grpc_repo_on_bare = GrpcMasterDataRepository(bare_grpc, tokens.service, grpc_retrier)
        closers += [grpc_repo.close, grpc_repo_on_bare.close]
        bare_stub = item_service_pb2_grpc.ItemServiceStub(bare_grpc.checked)
        bare_request = item_service_pb2.BatchGetItemDetailsRequest(
            tenant_id=TENANT, store_code=DEMO_STORE, item_codes=[ITEM]
        )

        async def grpc_bare() -> object:
            return await bare_stub.BatchGetItemDetails(bare_request, timeout=5)

        targets = [
            Target("gRPC repository", _repo_call(grpc_repo), real, "gRPC bare pair"),
            Target(
                "  its client side only",
                _repo_call(grpc_repo_on_bare),
                grpc_bare_server.pid,
                "gRPC bare pair",
            ),
            Target("gRPC bare pair", grpc_bare, grpc_bare_server.pid),
        ]
        limit = max(options.concurrency_levels) * 2
        for kind in HttpClientKind:
            settings = HttpClientSettings(kind=kind, max_connections=limit)
            bare_url = f"http://{LOOPBACK}:{http_port}"
            bare_client = create_http_client(bare_url, settings)
            http_retrier = Retrier(Transport.HTTP, 5.0, RetryPolicy())
            http_repo: HttpMasterDataRepository
            http_repo_on_bare: HttpMasterDataRepository
            if kind is HttpClientKind.AIOHTTP:  # cart's own repository, its own session
                over = HttpSettings(max_connections=limit)
                http_repo = HttpMasterDataRepository(
                    [master.url], tokens.service, http_retrier, over
                )
                http_repo_on_bare = HttpMasterDataRepository(
                    [bare_url], tokens.service, http_retrier, over
                )
            else:
                auth = service_headers(tokens.service)
                http_repo = BenchHttpRepository(
                    create_http_client(master.url, settings, auth), http_retrier
                )
                http_repo_on_bare = BenchHttpRepository(
                    create_http_client(bare_url, settings), http_retrier
                )
            closers += [http_repo.close, http_repo_on_bare.close, bare_client.close]
            bare_name = f"HTTP bare pair ({kind.value})"
            targets += [
                Target(f"HTTP repository ({kind.value})", _repo_call(http_repo), real, bare_name),
                Target(
                    f"  its client side only ({kind.value})",
                    _repo_call(http_repo_on_bare),
                    http_bare.pid,
                    bare_name,
                ),
                Target(bare_name, _bare_call(bare_client), http_bare.pid),
            ]

        if not options.client_side:
            targets = [t for t in targets if not t.name.startswith(" ")]
        results: dict[int, dict[str, list[Measured]]] = {}
        for concurrency in options.concurrency_levels:
            for target in targets:  # warm-up: connections, caches
                await closed_loop(target.call, concurrency=concurrency, seconds=0.5)
            samples: dict[str, list[Measured]] = {t.name: [] for t in targets}
            for round_number in range(options.rounds):
                order = targets if round_number % 2 == 0 else list(reversed(targets))
                for target in order:
                    samples[target.name].append(
                        await _measure(target, concurrency, options.seconds)
                    )
            results[concurrency] = samples
        return _report(options, targets, results)
    finally:
        for close in closers:
            await close()
        for process in reversed(processes):
            process.stop()


def _start_and_track(
    kind: str, body: Path, work: Path, processes: list[ManagedProcess]
) -> tuple[ManagedProcess, int]:
    process, port = start_bare_server(kind, body, work)
    processes.append(process)
    return process, port


def _repo_call(repository: MasterDataRepository) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        return _check((await repository.get_items(TENANT, DEMO_STORE, [ITEM])).found)

    return call


def _bare_call(client: HttpClient) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        response = await client.request("GET", "/item")
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return response.body

    return call


def _report(
    options: argparse.Namespace,
    targets: list[Target],
    results: dict[int, dict[str, list[Measured]]],
) -> int:
    print(
        f"\ncart's master-data repositories vs bare pairs: one item per call, warm cache, "
        f"{options.rounds} rounds x {options.seconds:g}s per target, medians over rounds; "
        f"CPU us per call of the client (this process) and the server, from /proc\n"
    )
    header = (
        f"{'conc':>4}  {'target':38} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
        f"{'client':>7} {'server':>7}  ratios to the bare pair: throughput; CPU"
    )
    print(header)
    print("-" * (len(header) + 20))
    verdicts = []
    for concurrency, measured in results.items():
        for target in targets:
            runs = measured[target.name]
            line = (
                f"{concurrency:>4}  {target.name:38} {median([m.sample.rps for m in runs]):8.0f} "
                f"{median([m.sample.p50_ms for m in runs]):7.2f} "
                f"{median([m.sample.p99_ms for m in runs]):7.2f} "
                f"{sum(m.sample.errors for m in runs):4d} "
                f"{median([m.client_cpu_us for m in runs]):7.0f} "
                f"{median([m.server_cpu_us for m in runs]):7.0f}"
            )
            if target.floor:
                bare = measured[target.floor]
                rps, rps_spread = median_ratio(
                    [m.sample.rps for m in runs], [b.sample.rps for b in bare]
                )
                # CPU: the bare pair's cost over ours, so that 1 is "as cheap as bare" here too.
                cpu, cpu_spread = median_ratio([b.cpu_us for b in bare], [m.cpu_us for m in runs])
                line += f"  {rps:.2f} ({rps_spread}); {cpu:.2f} ({cpu_spread})"
                if concurrency == GOAL_CONCURRENCY and not target.name.startswith(" "):
                    verdicts.append((target.name, rps, cpu))
            print(line)
        print()
    print("server CPU read from:")
    for target in targets:
        print(
            f"  {target.name.strip():36} pid {target.server_pid}: {command_line(target.server_pid)}"
        )
    print()
    for name, rps, cpu in verdicts:
        status = "meets" if rps >= GOAL_RATIO else "MISSES"
        print(f"{name}: {rps:.2f} of its bare pair's throughput at concurrency "
              f"{GOAL_CONCURRENCY}, {status} the {GOAL_RATIO} goal; CPU per call {cpu:.2f} "
              f"of the bare pair's")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="per target, round, level")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8,64", help="comma-separated levels")
    parser.add_argument(
        "--client-side",
        action="store_true",
        help="also run each repository against the bare server (cart's own cost alone)",
    )
    options = parser.parse_args(argv)
    options.concurrency_levels = [int(c) for c in options.concurrency.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as work:
        # cart runs on uvloop; so does this client side.
        return uvloop.run(_run(options, Path(work)))


if __name__ == "__main__":
    sys.exit(main())
