"""The HTTP-vs-gRPC comparison: same data, same load, modes interleaved, report with intervals.

    scripts/compare.sh [--modes http-aiohttp,http-httpx,http-httpx-aiohttp,grpc]
                       [--rounds 3] [--users 16] [--seconds 12] [--warmup 4] ...

It sets everything up itself: the database (embedded SecantusDB unless MONGODB_URI is set),
master-data serving HTTP and gRPC, the demo catalog, one terminal key per locust user. Then
for each round it runs every mode in turn (the order alternates between rounds), restarting
cart with that mode's settings each time; locust ramps the users up during the warm-up, then
its statistics are reset, so only the measured seconds count. Every loop is bounded; every
process it started is stopped at the end, on Ctrl-C and on failure too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx

from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import Tokens, start_cart, start_master_data, start_secantus
from pos_loadtest.cpu import CounterProbe, CpuProbe, per_request_ms
from pos_loadtest.environment import describe_environment
from pos_loadtest.locust_run import LoadSettings, run_locust
from pos_loadtest.modes import ALL_MODES, Mode, parse_mode
from pos_loadtest.report import Comparison, RunResult, write_report

REPORTS_DIR = REPO_ROOT / "loadtest" / "reports"
STORE = "S001"


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="compare", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--modes",
        default=",".join(mode.name for mode in ALL_MODES),
        help="comma-separated cart configurations; the first is the baseline of the ratios",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 2 for CIs)")
    parser.add_argument("--users", type=int, default=16, help="locust users = terminals")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted ramp-up seconds")
    parser.add_argument("--items-per-cart", type=int, default=5)
    parser.add_argument("--catalog-size", type=int, default=100, help="items scanned from")
    parser.add_argument("--cancel-share", type=float, default=0.1)
    parser.add_argument("--think-time", type=float, default=0.0, help="0 for throughput runs")
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    options = parser.parse_args(argv)
    options.mode_list = [parse_mode(name.strip()) for name in options.modes.split(",") if name]
    if len({m.name for m in options.mode_list}) != len(options.mode_list):
        parser.error("a mode is listed twice")
    if options.rounds < 1 or options.users < 1 or options.seconds <= 0:
        parser.error("rounds, users and seconds must be positive")
    return options


def _issue_keys(cart_url: str, admin_token: str, tenant_id: str, users: int) -> list[str]:
    keys = []
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=cart_url, headers=headers, timeout=30) as client:
        for terminal_no in range(1, users + 1):
            body = {"tenantId": tenant_id, "storeCode": STORE, "terminalNo": terminal_no}
            response = client.post("/api/v1/terminals", json=body)
            if response.status_code == 409:
                terminal_id = response.json()["error"]["details"]["terminalId"]
                response = client.post(f"/api/v1/terminals/{terminal_id}/rotate-key")
            response.raise_for_status()
            keys.append(response.json()["data"]["apiKey"])
    return keys


def _database_description(embedded: bool) -> str:
    if embedded:
        return f"SecantusDB {version('secantusdb')} (embedded, in memory)"
    return "MongoDB at MONGODB_URI (credentials not recorded)"


def run(options: argparse.Namespace) -> Path:
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    folder: Path = options.out or REPORTS_DIR / stamp
    folder.mkdir(parents=True, exist_ok=True)
    # Logs and locust's raw CSVs: deleted after a good run (results.json keeps the figures),
    # kept and named after a failed one.
    work = Path(tempfile.mkdtemp(prefix="compare-"))
    tokens = Tokens.generate()
    processes: list[ManagedProcess] = []
    modes: list[Mode] = options.mode_list
    try:
        uri = os.environ.get("MONGODB_URI")
        embedded = not uri
        database: ManagedProcess | None = None
        if not uri:
            database, uri = start_secantus(":memory:", log_dir=work)
            processes.append(database)
        master = start_master_data(uri, tokens, log_dir=work)
        processes.append(master.process)
        catalog: DemoCatalog = demo_catalog()
        asyncio.run(load_demo_catalog(master.url, tokens.admin, catalog))
        items = catalog.sellable_codes[: options.catalog_size]
        items_file = work / "items.json"
        items_file.write_text(json.dumps(items))
        issuer = start_cart(uri, tokens, master, use_grpc=False, log_dir=work, name="cart-keys")
        keys = _issue_keys(issuer.url, tokens.admin, catalog.tenant_id, options.users)
        issuer.process.stop()
        keys_file = work / "keys.json"
        keys_file.write_text(json.dumps(keys))

        load = LoadSettings(
            users=options.users,
            seconds=options.seconds,
            warmup_seconds=options.warmup,
            items_per_cart=options.items_per_cart,
            cancel_share=options.cancel_share,
            think_time=options.think_time,
        )
        comparison = Comparison(
            started_at=started.isoformat(timespec="seconds"),
            command="scripts/compare.sh " + shlex.join(sys.argv[1:]),
            modes=[{"name": m.name, "description": m.description} for m in modes],
            baseline=modes[0].name,
            settings={
                "rounds": options.rounds,
                "users (terminals)": options.users,
                "measured seconds per run": options.seconds,
                "warm-up seconds per run": options.warmup,
                "items per cart": options.items_per_cart,
                "catalog subset": len(items),
                "cancel share": options.cancel_share,
                "think time": options.think_time,
                "store": STORE,
                "USE_ITEM_CACHE": "false",
            },
            environment=describe_environment(_database_description(embedded)),
        )
        total = options.rounds * len(modes)
        done = 0
        for round_number in range(1, options.rounds + 1):
            order = modes if round_number % 2 else list(reversed(modes))
            for mode in order:
                done += 1
                print(f"[{done}/{total}] round {round_number}: {mode.name}", flush=True)
                cart = start_cart(
                    uri, tokens, master, use_grpc=mode.use_grpc, log_dir=work,
                    extra_env=mode.cart_env(), name=f"cart-{mode.name}-{round_number}",
                )  # fmt: skip
                processes.append(cart.process)
                watched = {"cart": cart.process.pid, "master-data": master.process.pid}
                if database is not None:
                    watched["database"] = database.pid
                cpu = CpuProbe(watched)
                commands = CounterProbe(f"{cart.url}/metrics", "mongodb_commands")
                try:
                    rows = run_locust(
                        cart.url, keys_file, items_file, load,
                        work / f"{mode.name}-{round_number}", seed=round_number,
                        idempotency_keys=mode.idempotency_keys, probes=[cpu, commands],
                    )  # fmt: skip
                finally:
                    cart.process.stop()
                    processes.remove(cart.process)
                run = RunResult(mode.name, round_number, rows, cpu.used, commands.grown)
                comparison.runs.append(run)
                costs = per_request_ms(cpu.used, run.requests)
                print(
                    f"    {run.requests} requests; CPU-ms per request: "
                    + ", ".join(f"{name} {ms:.2f}" for name, ms in costs.items())
                    + f"; database commands per request {commands.grown / (run.requests or 1):.2f}",
                    flush=True,
                )
        summary = write_report(comparison, folder)
        print(f"\nreport: {summary}\n        {folder / 'report.html'}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
        return summary
    except BaseException:
        print(f"logs of this run are in {work}", file=sys.stderr)
        raise
    finally:
        for process in reversed(processes):
            process.stop()


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    began = time.monotonic()
    try:
        summary = run(options)
    except KeyboardInterrupt:
        print("interrupted; every process started was stopped", file=sys.stderr)
        return 130
    print(f"took {time.monotonic() - began:.0f}s")
    print(summary.read_text().split("## Modes")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
