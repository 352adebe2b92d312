"""What an Idempotency-Key costs, before and after a change of how keys are kept: cart of an
older ref and of today side by side, each on its own SecantusDB (fsync on commit, as
scripts/start.sh runs it) so that the database's CPU is its own, both on one master-data.

    python -m pos_loadtest.benches.keys --baseline-ref 548e74e

Each round, each cart in turn (the order alternating) sells `--sales` sales from one terminal,
every change with its own key: create, three scans, subtotal, payment, bill (7 keyed calls).
Reported: CPU-ms per keyed call of cart and of its database (utime + stime from /proc), the
median over the rounds, and today's over the baseline's, paired by round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from pos_commons.transport import Transport
from pos_devstack.seed import DEMO_STORE, demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    SYNC_ON_COMMIT,
    CartProcess,
    Tokens,
    start_cart,
    start_secantus,
    terminal_key,
)
from pos_loadtest.probes.cpu import cpu_seconds
from pos_loadtest.stacks import older_ref
from pos_loadtest.stacks.catalog import catalog_service

CALLS_PER_SALE = 7


@dataclass
class Contender:
    name: str
    cart: CartProcess
    database_pid: int
    key: str
    per_round: list[float]


def sell(client: httpx.Client, codes: list[str], sales: int) -> None:
    def keyed() -> dict[str, str]:
        return {"Idempotency-Key": str(uuid.uuid4())}

    for sale in range(sales):
        created = client.post("/carts", headers=keyed())
        created.raise_for_status()
        cart_id = created.json()["data"]["cartId"]
        for n in range(3):
            code = codes[(sale * 3 + n) % len(codes)]
            client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": code}],
                        headers=keyed()).raise_for_status()  # fmt: skip
        due = client.post(f"/carts/{cart_id}/subtotal", headers=keyed())
        due.raise_for_status()
        amount = due.json()["data"]["totals"]["balanceDue"]
        client.post(f"/carts/{cart_id}/payments", json={"paymentCode": "CASH", "amount": amount},
                    headers=keyed()).raise_for_status()  # fmt: skip
        client.post(f"/carts/{cart_id}/bill", headers=keyed()).raise_for_status()


def run(ref: str, rounds: int, sales: int) -> list[Contender]:
    tokens = Tokens.generate()
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as folder, ExitStack() as stack:
        work = Path(folder)
        code = stack.enter_context(older_ref.checkout(ref, work))
        master = stack.enter_context(catalog_service(work, tokens)).master
        catalog = demo_catalog()
        asyncio.run(load_demo_catalog(master.url, tokens.admin, catalog))
        contenders = []
        for name, paths in (("baseline", older_ref.import_paths(code)), ("today", [])):
            database, uri = start_secantus(work / f"db-{name}", log_dir=work,
                                           extra_args=(SYNC_ON_COMMIT,))  # fmt: skip
            stack.callback(database.stop)
            cart = start_cart(uri, tokens, master, transport=Transport.HTTP, log_dir=work,
                              name=f"cart-{name}", import_paths=paths)  # fmt: skip
            stack.callback(cart.process.stop)
            key = terminal_key(cart.url, tokens.cart_admin, catalog.tenant_id, DEMO_STORE, 1)
            contenders.append(Contender(name, cart, database.pid, key, []))
        codes = catalog.sellable_codes
        for contender in contenders:  # warm-up: connections, caches, the item cache
            _measure(contender, codes, 5)
            contender.per_round.clear()
        for round_no in range(rounds):
            order = contenders if round_no % 2 == 0 else contenders[::-1]
            for contender in order:
                _measure(contender, codes, sales)
        return contenders


def _measure(contender: Contender, codes: list[str], sales: int) -> None:
    pids = (contender.cart.process.pid, contender.database_pid)
    before = sum(cpu_seconds(pid) for pid in pids)
    with httpx.Client(base_url=f"{contender.cart.url}/api/v1",
                      headers={"X-API-Key": contender.key}, timeout=30) as client:  # fmt: skip
        sell(client, codes, sales)
    spent = sum(cpu_seconds(pid) for pid in pids) - before
    contender.per_round.append(1000 * spent / (sales * CALLS_PER_SALE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pos-bench-keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-ref", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sales", type=int, default=60, help="sales per cart per round")
    options = parser.parse_args(argv)
    if options.rounds < 1 or options.sales < 1:
        parser.error("rounds and sales must be positive")
    older_ref.resolve(options.baseline_ref)
    old, new = run(options.baseline_ref, options.rounds, options.sales)
    ratios = [n / o for o, n in zip(old.per_round, new.per_round, strict=True)]
    for contender in (old, new):
        print(f"{contender.name:8} CPU-ms per keyed call (cart + its database): median "
              f"{statistics.median(contender.per_round):.3f} over "
              f"{[round(v, 3) for v in contender.per_round]}")  # fmt: skip
    print(f"today / baseline: median {statistics.median(ratios):.3f} "
          f"(rounds {min(ratios):.3f}-{max(ratios):.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
