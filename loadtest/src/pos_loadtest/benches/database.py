"""Database benchmark: cart's cart store against the bare MongoDB wire protocol.

What one cart write and one cart read cost, at three depths, against a real SecantusDB:

- cart's store (`CartStore.replace` of a five-line cart, versioned; `CartStore.get`): the
  model dumped and its amounts converted, the driver, the round trip;
- the driver alone (pymongo's `replace_one` / `find_one` through cart's own `Mongo`, same
  options and listeners), with the document already built;
- the bare wire: the same command, BSON-encoded (bson's C extension, cart's codec options) and
  framed as an OP_MSG by hand on a plain asyncio connection, its reply read and decoded; what
  any client has to do, and nothing else.

Per call: throughput and latency, and the CPU of this process (the client, all its threads)
and of the database, from /proc over the same window. Targets interleave over rounds; medians
with each target's ratio to the bare wire, paired by round (CPU: the wire's cost over the
target's, so 1 is "as cheap as the wire"). The gap between the driver and the wire is the
driver's own cost per command, the gap between the store and the driver cart's. Not a test:
nothing here has a timing threshold.

    scripts/bench_database.sh [--seconds 1.5] [--rounds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bson
import uvloop

from cart.domain.model import Cart
from cart.domain.operations import ItemInfo, ItemRequest, PricingPolicy, add_items, new_cart
from cart.masterdata.repository import tax_rule
from cart.storage.carts import CARTS, CartStore, TenantDatabases, cart_document
from pos_commons.mongo import CODEC_OPTIONS, Concerns, Document, Mongo
from pos_commons.tax import RoundingMethod, TaxType
from pos_devstack.processes import LOOPBACK, free_port
from pos_devstack.stack import start_secantus
from pos_loadtest.benches.closed_loop import Sample, closed_loop, median, median_ratio
from pos_loadtest.probes.cpu import cpu_seconds
from pos_loadtest.probes.process import command_line

TENANT, STORE, TERMINAL = "bench", "S001", 1
LINES = 5
_OP_MSG = 2013
_HEADER = struct.Struct("<iiii")


@dataclass
class Measured:
    sample: Sample
    client_cpu_us: float
    """CPU per answered call of this process, the client (all its threads)."""
    database_cpu_us: float
    database_pid: int
    """The process whose CPU the database column is: reported as such."""


@dataclass
class Target:
    name: str
    call: Callable[[], Awaitable[object]]
    floor: str | None = None
    """The bare target this one is measured against."""


class WireConnection:
    """One MongoDB connection spoken to by hand: an OP_MSG out, its reply in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._request_id = 0

    @classmethod
    async def open(cls, port: int) -> WireConnection:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        return cls(reader, writer)

    async def command(self, command: Document) -> Document:
        self._request_id += 1
        # flagBits 0, then one section of kind 0: the command document.
        body = b"\x00\x00\x00\x00\x00" + bson.encode(command, codec_options=CODEC_OPTIONS)
        self._writer.write(_HEADER.pack(_HEADER.size + len(body), self._request_id, 0, _OP_MSG))
        self._writer.write(body)
        length, _, _, op_code = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))
        payload = await self._reader.readexactly(length - _HEADER.size)
        if op_code != _OP_MSG:
            raise RuntimeError(f"unexpected reply opcode {op_code}")
        reply: Document = bson.decode(payload[5:], codec_options=CODEC_OPTIONS)
        if reply.get("ok") != 1:
            raise RuntimeError(f"command failed: {reply}")
        return reply

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def five_line_cart(cart_id: str) -> Cart:
    """A cart as a terminal leaves it after five scans: five lines, taxed, totalled."""
    now = datetime.now(UTC)
    policy = PricingPolicy()
    cart = new_cart(cart_id, TENANT, STORE, TERMINAL, now, now + timedelta(days=1), policy)
    rule = tax_rule("T01", "VAT 10%", TaxType.EXTERNAL, Decimal("10"), 0, RoundingMethod.HALF_UP)
    items = {
        f"ITEM{n:04d}": ItemInfo(
            item_code=f"ITEM{n:04d}",
            description=f"Item number {n} of the bench",
            short_description=f"Item {n}",
            category_code="C01",
            effective_price=Decimal(f"{100 + 37 * n}.50"),
            is_discount_restricted=False,
            is_deleted=False,
            tax_rule=rule,
            unit_price=Decimal(f"{100 + 37 * n}.50"),
            store_price=None,
        )
        for n in range(1, LINES + 1)
    }
    for code in items:
        cart = add_items(cart, [ItemRequest(code, 1)], items, policy)
    return cart


@dataclass
class Slot:
    """One worker's own cart: writes to it never conflict with another worker's."""

    cart: Cart
    document: Document
    wire: WireConnection

    @property
    def version(self) -> int:
        return self.cart.version

    def advance(self) -> Cart:
        self.cart = self.cart.model_copy(update={"version": self.cart.version + 1})
        return self.cart


class Slots:
    """As many carts as workers; each call leases one."""

    def __init__(self, slots: list[Slot]) -> None:
        self._free = slots

    @contextmanager
    def lease(self) -> Iterator[Slot]:
        slot = self._free.pop()
        try:
            yield slot
        finally:
            self._free.append(slot)


def _targets(store: CartStore, collection: Any, slots: Slots) -> list[Target]:
    database_name = collection.database.name  # the tenant's, as cart names it

    async def store_write() -> object:
        with slots.lease() as slot:
            expected = slot.version
            if not await store.replace(slot.advance(), expected):
                raise RuntimeError("version conflict")
        return True

    async def driver_write() -> object:
        with slots.lease() as slot:
            expected = slot.version
            slot.document["version"] = slot.advance().version
            result = await collection.replace_one(
                {"_id": slot.cart.cart_id, "version": expected}, slot.document
            )
            if result.matched_count != 1:
                raise RuntimeError("version conflict")
        return True

    async def wire_write() -> object:
        with slots.lease() as slot:
            expected = slot.version
            slot.document["version"] = slot.advance().version
            reply = await slot.wire.command(
                {
                    "update": CARTS,
                    "updates": [
                        {"q": {"_id": slot.cart.cart_id, "version": expected}, "u": slot.document}
                    ],
                    # What the driver adds from cart's concerns: the same work in the server.
                    "writeConcern": {"w": "majority", "j": True},
                    "$db": database_name,
                }
            )
            if reply.get("n") != 1:
                raise RuntimeError("version conflict")
        return True

    async def store_read() -> object:
        with slots.lease() as slot:
            return await store.get(TENANT, STORE, TERMINAL, slot.cart.cart_id)

    async def driver_read() -> object:
        with slots.lease() as slot:
            found = await collection.find_one(
                {"_id": slot.cart.cart_id, "store_code": STORE, "terminal_no": TERMINAL}
            )
        if found is None:
            raise RuntimeError("not found")
        return found

    async def wire_read() -> object:
        with slots.lease() as slot:
            reply = await slot.wire.command(
                {
                    "find": CARTS,
                    "filter": {
                        "_id": slot.cart.cart_id,
                        "store_code": STORE,
                        "terminal_no": TERMINAL,
                    },
                    "limit": 1,
                    "singleBatch": True,
                    "readConcern": {"level": "majority"},
                    "$db": database_name,
                }
            )
        if not reply["cursor"]["firstBatch"]:
            raise RuntimeError("not found")
        return reply

    return [
        Target("write: cart's store", store_write, "write: bare wire"),
        Target("  the driver alone", driver_write, "write: bare wire"),
        Target("write: bare wire", wire_write),
        Target("read: cart's store", store_read, "read: bare wire"),
        Target("  the driver alone", driver_read, "read: bare wire"),
        Target("read: bare wire", wire_read),
    ]


async def _measure(target: Target, concurrency: int, seconds: float, database: int) -> Measured:
    client_before, database_before = time.process_time(), cpu_seconds(database)
    sample = await closed_loop(target.call, concurrency=concurrency, seconds=seconds)
    client = time.process_time() - client_before
    server = cpu_seconds(database) - database_before
    calls = max(sample.requests, 1)
    return Measured(sample, client / calls * 1e6, server / calls * 1e6, database)


async def _run(options: argparse.Namespace, work: Path) -> int:
    port = free_port()
    database, uri = start_secantus(":memory:", port=port, log_dir=work)
    mongo = Mongo(
        uri,
        database_prefix="cart",
        timeout_seconds=5.0,
        operation_timeout_seconds=10.0,
        max_idle_seconds=60.0,
        concerns=Concerns(),  # cart's defaults: majority, journaled
    )
    slots: list[Slot] = []
    try:
        databases = TenantDatabases(mongo)
        store = CartStore(databases)
        collection = await databases.collection(TENANT, CARTS)
        for worker in range(options.concurrency):
            cart = five_line_cart(f"{worker:032x}")
            await store.insert(cart)
            slots.append(Slot(cart, cart_document(cart), await WireConnection.open(port)))
        targets = _targets(store, collection, Slots(list(slots)))
        for target in targets:  # warm-up: connections, memos
            await closed_loop(target.call, concurrency=options.concurrency, seconds=0.3)
        results: dict[str, list[Measured]] = {t.name + str(i): [] for i, t in enumerate(targets)}
        for round_number in range(options.rounds):
            order = list(enumerate(targets))
            if round_number % 2:
                order.reverse()
            for index, target in order:
                results[target.name + str(index)].append(
                    await _measure(target, options.concurrency, options.seconds, database.pid)
                )
        return _report(options, targets, results)
    finally:
        for slot in slots:
            await slot.wire.close()
        await mongo.close()
        database.stop()


def _report(
    options: argparse.Namespace,
    targets: list[Target],
    results: dict[str, list[Measured]],
) -> int:
    print(
        f"\ncart's store vs the bare wire: a {LINES}-line cart, concurrency "
        f"{options.concurrency}, {options.rounds} rounds x {options.seconds:g}s per target, "
        f"medians over rounds; CPU us per call of the client (this process) and the database, "
        f"from /proc\n"
    )
    header = (
        f"{'target':24} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
        f"{'client':>7} {'database':>8}  ratios to the bare wire: throughput; client CPU"
    )
    print(header)
    print("-" * len(header))
    keys = [t.name + str(i) for i, t in enumerate(targets)]
    by_name = {t.name: key for key, t in zip(keys, targets, strict=True) if not t.floor}
    client_cost: dict[str, float] = {}
    for key, target in zip(keys, targets, strict=True):
        runs = results[key]
        client_cost[key] = median([m.client_cpu_us for m in runs])
        line = (
            f"{target.name:24} {median([m.sample.rps for m in runs]):8.0f} "
            f"{median([m.sample.p50_ms for m in runs]):7.2f} "
            f"{median([m.sample.p99_ms for m in runs]):7.2f} "
            f"{sum(m.sample.errors for m in runs):4d} "
            f"{client_cost[key]:7.0f} {median([m.database_cpu_us for m in runs]):8.0f}"
        )
        if target.floor:
            wire_runs = results[by_name[target.floor]]
            rps, rps_spread = median_ratio(
                [m.sample.rps for m in runs], [w.sample.rps for w in wire_runs]
            )
            cpu, cpu_spread = median_ratio(
                [w.client_cpu_us for w in wire_runs], [m.client_cpu_us for m in runs]
            )
            line += f"  {rps:.2f} ({rps_spread}); {cpu:.2f} ({cpu_spread})"
        print(line)
    for pid in sorted({m.database_pid for runs in results.values() for m in runs}):
        print(f"\ndatabase CPU read from pid {pid}: {command_line(pid)}")
    print()
    for operation in ("write", "read"):
        # Each operation's rows: cart's store, the driver alone, the bare wire, in that order.
        index = keys.index(next(k for k in keys if k.startswith(f"{operation}: cart's store")))
        store, driver, wire = (client_cost[k] for k in keys[index : index + 3])
        print(
            f"{operation}: client CPU per call {store:.0f} us = {wire:.0f} the wire + "
            f"{driver - wire:.0f} the driver + {store - driver:.0f} cart's store"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="per target and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8, help="workers, one cart each")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-database-") as work:
        # cart runs on uvloop; so does this client.
        return uvloop.run(_run(options, Path(work)))


if __name__ == "__main__":
    sys.exit(main())
