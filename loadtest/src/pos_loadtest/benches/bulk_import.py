"""The bulk import's bench: a generated catalog of N items (with a store price for each) put
into a fresh master-data on the embedded database (SecantusDB, fsync on commit, as
scripts/start.sh runs it) by `posctl catalog import`, run as the operator runs it, timed, with
the CLI's peak memory (its maximum resident set, from the kernel) and the CPU time the two
servers spent on each step (a figure the other work on a shared machine does not inflate, as it
does the wall time).

    python -m pos_loadtest.benches.bulk_import --items 100000

The goal (issue: "Run a store without curl"): 100,000 items with store prices in <= 60 s on
2 cores. Both files are imported through the CLI's two passes (every row checked first).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pymongo import AsyncMongoClient

from master_data.domain import now_ms
from master_data.storage.kinds import ITEMS, STORE_PRICES
from pos_commons.mongo import CODEC_OPTIONS, Document, ensure_indexes
from pos_devstack.seed import DEMO_STORE
from pos_devstack.stack import SYNC_ON_COMMIT, Tokens, start_master_data, start_secantus
from pos_loadtest.probes.cpu import cpu_seconds


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    summary: str
    peak_rss_mib: float
    database_cpu_seconds: float
    master_data_cpu_seconds: float
    posctl_cpu_seconds: float = 0.0


def write_catalog(folder: Path, items: int) -> tuple[Path, Path]:
    """items.csv and storePrices.csv: `items` items over the default tax rules, one category,
    and a store price for every item."""
    items_file, prices_file = folder / "items.csv", folder / "storePrices.csv"
    with items_file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["itemCode", "description", "shortDescription", "unitPrice",
                         "categoryCode", "taxCode", "isDiscountRestricted"])  # fmt: skip
        for n in range(items):
            price, tax = f"{1 + n % 500}.{n % 100:02d}", ("STD", "RED", "EXM")[n % 3]
            restricted = "true" if n % 20 == 0 else "false"
            writer.writerow([f"SKU{n:07d}", f"Generated item number {n}", f"Item {n}", price,
                             "GENERAL", tax, restricted])  # fmt: skip
    with prices_file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["storeCode", "itemCode", "price"])
        for n in range(items):
            writer.writerow([DEMO_STORE, f"SKU{n:07d}", f"{n % 500}.{(n * 7) % 100:02d}"])
    return items_file, prices_file


def cpu_since(pids: tuple[int, ...], before: list[float]) -> list[float]:
    """Each process's CPU seconds since `before` (its cpu_seconds then)."""
    return [cpu_seconds(pid) - spent for pid, spent in zip(pids, before, strict=True)]


def posctl(env: dict[str, str], *args: str) -> tuple[float, str, float, float]:
    """Runs posctl; its wall time, last line of output, peak RSS (MiB) and CPU seconds (both
    from wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [str(Path(sys.executable).parent / "posctl"), *args], env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        if child.returncode != 0:
            raise SystemExit(f"posctl {' '.join(args)} failed: {err.read()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, lines[-1] if lines else "", usage.ru_maxrss / 1024, cpu


async def bare_inserts(uri: str, items: int) -> float:
    """The floor: the same documents as master-data stores them, inserted with pymongo's
    insert_many in batches of 1,000 into a database with the same indexes, on the same server
    (whose change stream master-data follows, as during the import): no HTTP, no validation,
    no existence read. Seconds for the items and the store prices."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri, type_registry=CODEC_OPTIONS.type_registry, tz_aware=True
    )
    try:
        db = client["masterdata_bare"]
        await ensure_indexes(db, [*ITEMS.indexes(), *STORE_PRICES.indexes()])
        now = now_ms()
        started = time.perf_counter()
        for kind, make in ((ITEMS, _item_document), (STORE_PRICES, _price_document)):
            for first in range(0, items, 1_000):
                batch = [{**make(n), "created_at": now, "updated_at": now}
                         for n in range(first, min(items, first + 1_000))]  # fmt: skip
                await db[kind.collection].insert_many(batch, ordered=False)
        return time.perf_counter() - started
    finally:
        await client.close()


def _item_document(n: int) -> Document:
    return {"item_code": f"SKU{n:07d}", "description": f"Generated item number {n}",
            "short_description": f"Item {n}", "unit_price": Decimal(f"{1 + n % 500}.{n % 100:02d}"),
            "category_code": "GENERAL", "tax_code": ("STD", "RED", "EXM")[n % 3],
            "is_discount_restricted": n % 20 == 0, "is_deleted": False}  # fmt: skip


def _price_document(n: int) -> Document:
    return {"store_code": DEMO_STORE, "item_code": f"SKU{n:07d}",
            "price": Decimal(f"{n % 500}.{(n * 7) % 100:02d}")}  # fmt: skip


def run(items: int) -> list[Step]:
    tokens = Tokens.generate()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        work = Path(folder)
        database, uri = start_secantus(work / "db", log_dir=work, extra_args=(SYNC_ON_COMMIT,))
        master = start_master_data(uri, tokens, log_dir=work)
        try:
            env = {**os.environ, "POSCTL_MASTER_DATA_URL": master.url,
                   "POSCTL_MASTER_DATA_TOKEN": tokens.admin}  # fmt: skip
            # An installed posctl keeps its compiled modules: without them each run compiles
            # every module it imports again (2 s of CPU here), which an operator does not see.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            posctl(env, "tenant", "create", "bench", "--name", "Bench")
            posctl(env, "store", "add", "-t", "bench", DEMO_STORE, "--name", "Bench store")
            categories = work / "categories.csv"
            categories.write_text("categoryCode,name\nGENERAL,General\n", encoding="utf-8")
            posctl(env, "catalog", "import", "categories", str(categories), "-t", "bench")
            items_file, prices_file = write_catalog(work, items)
            servers = (database.pid, master.process.pid)
            # First, so that it meets the smaller database: the floor is, if anything, low.
            before = [cpu_seconds(pid) for pid in servers]
            seconds = asyncio.run(bare_inserts(uri, items))
            used = cpu_since(servers, before)
            floor = Step("bare insert_many (the floor)", seconds, "", 0, *used)
            print(f"{floor.name}: {floor.seconds:.1f} s for the same documents "
                  f"(CPU: database {used[0]:.1f} s, master-data {used[1]:.1f} s)",
                  flush=True)  # fmt: skip
            steps = []
            imports = (("items", items_file), ("storePrices", prices_file), ("items", items_file))
            for n, (name, file) in enumerate(imports):
                before = [cpu_seconds(pid) for pid in servers]
                seconds, summary, peak, own_cpu = posctl(
                    env, "catalog", "import", name, str(file), "-t", "bench"
                )
                used = cpu_since(servers, before)
                label = f"import {name}{' again' if n == 2 else ''}"
                steps.append(Step(label, seconds, summary, peak, used[0], used[1], own_cpu))
                print(f"{steps[-1].name}: {seconds:.1f} s, posctl peak RSS {peak:.0f} MiB, CPU: "
                      f"database {used[0]:.1f} s, master-data {used[1]:.1f} s, posctl "
                      f"{own_cpu:.1f} s ({summary})", flush=True)  # fmt: skip
            steps.append(floor)
            return steps
        finally:
            master.process.stop()
            database.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pos-bench-import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    options = parser.parse_args(argv)
    steps = run(options.items)
    first = sum(step.seconds for step in steps[:2])
    peak = max(step.peak_rss_mib for step in steps)
    floor = steps[-1].seconds
    database_cpu = sum(step.database_cpu_seconds for step in steps[:2])
    print(f"{options.items:,} items with store prices: {first:.1f} s, {first / floor:.2f}x the "
          f"bare inserts' {floor:.1f} s; posctl peak RSS {peak:.0f} MiB; the database's CPU "
          f"{database_cpu:.1f} s, {database_cpu / steps[-1].database_cpu_seconds:.2f}x the "
          "floor's")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
