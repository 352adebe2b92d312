"""A rolling-restart drill: restart one of two master-data replicas again and again while
terminals keep selling through cart, and count every cart call that failed.

    scripts/restart_drill.sh [--transports http,grpc] [--restarts 5] [--terminals 8]
                             [--replicas 2] [--no-item-cache]

With `--replicas 1` (a small store's one master-data) cart has nobody to fail over to while
it is gone: what counts then is the drain, during which no call may fail (those that end in
the `--drain` seconds after each SIGTERM are counted apart); `--no-item-cache` sends every
lookup to master-data.

Both replicas share the database and sit behind one target of cart's: MASTER_DATA_URL lists
both (HTTP), MASTER_DATA_GRPC_TARGET is ``ipv4:<a>,<b>`` (gRPC, round-robin with health
checking). Each restart is what an orchestrator does: SIGTERM (master-data drains for
--drain seconds, then stops gracefully), wait for the exit, start it again on the same
ports, wait until it is ready. Meanwhile every terminal runs whole sales (create, scan items
one at a time, subtotal, pay the exact balance in cash, bill), nonstop. Every loop is
bounded; every process started here is stopped at the end, on failure too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from pos_commons.transport import Transport
from pos_devstack.processes import wait_for_status
from pos_devstack.seed import DEMO_STORE, DemoCatalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
    terminal_key,
)
from pos_loadtest.drills.sales_load import DrillResult, SalesLoad

FIRST_TERMINAL_NO = 9001


def _replicas_target(replicas: Sequence[MasterDataProcess]) -> dict[str, str]:
    return {
        "MASTER_DATA_URL": ",".join(replica.url for replica in replicas),
        "MASTER_DATA_GRPC_TARGET": "ipv4:" + ",".join(r.grpc_target for r in replicas),
    }


async def run_drill(
    mongodb_uri: str,
    tokens: Tokens,
    catalog: DemoCatalog,
    *,
    transport: Transport,
    restarts: int,
    terminals: int,
    drain_seconds: float,
    pause_seconds: float,
    work: Path,
    replicas: int = 2,
    cart_env: Mapping[str, str] | None = None,
) -> DrillResult:
    """`replicas` of master-data, one cart on `transport` (with `cart_env`), `terminals`
    selling; replica 0 is restarted `restarts` times. master-data and cart are this drill's
    own processes."""
    replica_env = {"SHUTDOWN_DRAIN_SECONDS": str(drain_seconds)}
    running: list[MasterDataProcess] = []
    cart: CartProcess | None = None
    result = DrillResult(transport, restarts)
    try:
        for n in range(replicas):
            running.append(
                await asyncio.to_thread(
                    start_master_data,
                    mongodb_uri,
                    tokens,
                    log_dir=work,
                    extra_env=replica_env,
                    name=f"master-data-{n}",
                )
            )
        cart = await asyncio.to_thread(
            start_cart,
            mongodb_uri,
            tokens,
            running[0],
            transport=transport,
            log_dir=work,
            extra_env={**_replicas_target(running), **(cart_env or {})},
            name=f"cart-{transport}",
        )
        keys = [
            await asyncio.to_thread(
                terminal_key, cart.url, tokens.cart_admin, catalog.tenant_id, DEMO_STORE, number
            )
            for number in range(FIRST_TERMINAL_NO, FIRST_TERMINAL_NO + terminals)
        ]
        load = SalesLoad(catalog.sellable_codes[:100], result)
        async with load.selling(cart.url, keys):
            await asyncio.sleep(pause_seconds)
            for _ in range(restarts):
                target = running[0]
                calls, failed = result.calls, result.failed
                # SIGTERM, then the exit: the window below starts before the signal and ends
                # before the drain does.
                stopping = asyncio.create_task(
                    asyncio.to_thread(target.process.stop, drain_seconds + 30)
                )
                await asyncio.sleep(drain_seconds)
                result.calls_while_draining += result.calls - calls
                result.failed_while_draining += result.failed - failed
                await stopping
                running[0] = await asyncio.to_thread(
                    start_master_data,
                    mongodb_uri,
                    tokens,
                    http_port=target.http_port,
                    grpc_port=target.grpc_port,
                    log_dir=work,
                    extra_env=replica_env,
                    name="master-data-0",
                )
                await wait_for_status(f"{running[0].url}/ready", 200, within=60)
                await asyncio.sleep(pause_seconds)
    finally:
        if cart is not None:
            cart.process.stop()
        for replica in running:
            replica.process.stop()
    return result


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-restart-drill", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--transports",
        type=lambda text: [Transport(name) for name in text.split(",")],
        default=list(Transport),
        help=f"comma-separated: {', '.join(Transport)}",
    )
    parser.add_argument("--restarts", type=int, default=5, help="restarts of replica 0")
    parser.add_argument("--terminals", type=int, default=8, help="terminals selling nonstop")
    parser.add_argument("--drain", type=float, default=2.0, help="SHUTDOWN_DRAIN_SECONDS")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between restarts")
    parser.add_argument("--replicas", type=int, default=2, help="master-data replicas")
    parser.add_argument(
        "--no-item-cache",
        action="store_true",
        help="cart without its item cache (USE_ITEM_CACHE=false): every lookup asks master-data",
    )
    return parser.parse_args(argv)


async def _main(options: argparse.Namespace) -> list[DrillResult]:
    tokens = Tokens.generate()
    with tempfile.TemporaryDirectory(prefix="restart-drill-") as folder:
        work = Path(folder)
        database, uri = start_secantus(":memory:", log_dir=work)
        seeder: MasterDataProcess | None = None
        try:
            seeder = start_master_data(uri, tokens, log_dir=work, name="master-data-seed")
            catalog = await load_demo_catalog(seeder.url, tokens.admin)
            seeder.process.stop()
            results = []
            for transport in options.transports:
                result = await run_drill(
                    uri,
                    tokens,
                    catalog,
                    transport=transport,
                    restarts=options.restarts,
                    terminals=options.terminals,
                    drain_seconds=options.drain,
                    pause_seconds=options.pause,
                    work=work,
                    replicas=options.replicas,
                    cart_env={"USE_ITEM_CACHE": "false"} if options.no_item_cache else None,
                )
                print(result.summary(), flush=True)
                results.append(result)
            return results
        finally:
            if seeder is not None:
                seeder.process.stop()
            database.stop()


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    results = asyncio.run(_main(options))
    # One replica cannot be failed over from: only its drain must cost no call.
    if options.replicas == 1:
        return 1 if any(result.failed_while_draining for result in results) else 0
    return 1 if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
