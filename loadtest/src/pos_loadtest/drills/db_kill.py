"""A database-kill drill: SecantusDB, on a data directory, is killed (SIGKILL) again and again
while terminals sell through cart, and every change cart answered 2xx is looked for in the
database afterwards.

    scripts/db_kill_drill.sh [--kills 10] [--terminals 8] [--seconds-per-round 5]
                             [--sync-on-commit] [--transport http] [--out report.json]

One SecantusDB on a data directory (default settings, or with --sync-on-commit, or any
--database-arg), master-data, one cart. The terminals sell nonstop (create, scan three items
one at a time, subtotal, pay the balance in cash, bill), every other sale with an
Idempotency-Key on each change; a sale whose call failed is left as it is (a new one starts).
Every change answered 2xx is recorded with what the answer showed: the cart's lines, payments,
state and receipt number.

Each round: after a random moment (half to all of --seconds-per-round), SecantusDB is killed,
started again on the same data directory and port after --down seconds, and once cart's /ready
answers 200 again the database is read directly (pymongo, not through cart) for every change
acknowledged so far: its cart must exist with at least the lines and payments of that answer
and a state at least as far on; a billed cart must be billed with that receipt number, its
transaction record stored and its terminal's receipt counter there; a keyed change's
Idempotency-Key answer must be stored. The terminals go on selling throughout; after the last
round they stop and everything is audited once more. A change found missing is counted once,
with how long before the kill that lost it it was answered.

Exit 1 if any acknowledged change was lost. Every loop is bounded; every process started here
is stopped at the end, on failure too; the database is killed by its own PID only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from cart.api.changes import IDEMPOTENCY_HEADER
from cart.storage.carts import CARTS, COUNTERS, IDEMPOTENCY, TRANSACTIONS
from pos_commons.transport import Transport
from pos_devstack.seed import DEMO_STORE
from pos_devstack.stack import SYNC_ON_COMMIT, Tokens
from pos_loadtest.comparison.fresh_state import cart_tenant_databases
from pos_loadtest.drills.sales_load import ITEMS_PER_SALE, DrillResult, SalesLoad, route
from pos_loadtest.probes.database_operations import database_client
from pos_loadtest.stacks.durable import DurableStack, durable_stack

STATE_RANK = {"Idle": 0, "EnteringItem": 1, "Paying": 2, "Completed": 3, "Cancelled": 3}
"""How far on a cart is: a later change never takes it back (the drill resumes no entry)."""
AUDIT_BATCH = 500
UNKEPT_LOG = "idempotency answer not kept"
"""What cart/services/idempotency.py logs when it cannot keep an answer."""


@dataclass(frozen=True)
class Ack:
    """One change cart answered 2xx, and what its answer showed."""

    number: int
    kind: str
    """create, add, subtotal, pay or bill."""
    terminal_no: int
    cart_id: str
    at: float
    """time.monotonic() when the answer came."""
    state: str
    lines: tuple[tuple[int, str, int], ...]
    """(line number, item code, quantity) of each line."""
    payments: tuple[tuple[int, str], ...]
    """(payment number, payment code) of each payment."""
    receipt_no: int | None
    key: str | None
    """The Idempotency-Key it was sent with."""

    @classmethod
    def of(cls, number: int, kind: str, terminal_no: int, data: Any, key: str | None) -> Ack:
        return cls(
            number=number,
            kind=kind,
            terminal_no=terminal_no,
            cart_id=data["cartId"],
            at=time.monotonic(),
            state=data["state"],
            lines=tuple((li["lineNo"], li["itemCode"], li["quantity"]) for li in data["lines"]),
            payments=tuple((p["paymentNo"], p["paymentCode"]) for p in data["payments"]),
            receipt_no=data["receiptNo"],
            key=key,
        )


@dataclass
class Loss:
    ack: Ack
    missing: list[str]
    kill: int
    """The kill after which it was found missing (0: no kill since it was answered)."""
    before_kill_ms: float
    """How long before that kill it was answered (negative: answered after the kill, the
    database having taken it just before)."""

    @property
    def only_idempotency_record(self) -> bool:
        return all(what.startswith("idempotency") for what in self.missing)

    @property
    def not_kept(self) -> bool:
        """Only the Idempotency-Key answer is missing, of a change answered after the kill:
        cart keeps that answer after the change and answers even when keeping it fails (the
        key in the cart covers a retry), so the database may have gone before it. Not a
        loss: nothing acknowledged is missing."""
        return self.only_idempotency_record and self.kill > 0 and self.before_kill_ms < 0

    def describe(self) -> str:
        ack = self.ack
        when = (
            f"{self.before_kill_ms:.0f} ms before kill {self.kill}"
            if self.kill
            else "with no kill since"
        )
        return (
            f"{ack.kind} of cart {ack.cart_id} (terminal {ack.terminal_no}"
            f"{', keyed' if ack.key else ''}), answered {when}: {'; '.join(self.missing)}"
        )


@dataclass
class Stored:
    """What the database holds for the audited changes, read once per audit."""

    carts: dict[str, dict[str, Any]]
    transactions: dict[str, dict[str, Any]]
    """By cart id."""
    counters: dict[str, int]
    """last_receipt_no by counter id ("<store>/<terminal>")."""
    records: set[str]
    """Ids of the stored Idempotency-Key answers."""


def missing_from(ack: Ack, stored: Stored) -> list[str]:
    """What of `ack`'s change the database does not hold (empty: all of it is there)."""
    cart = stored.carts.get(ack.cart_id)
    missing = []
    if ack.key is not None and _record_id(ack) not in stored.records:
        missing.append("idempotency record")
    if cart is None:
        return ["cart missing", *missing]
    if STATE_RANK.get(cart["state"], -1) < STATE_RANK[ack.state]:
        missing.append(f"state {cart['state']}, answered {ack.state}")
    lines = [(li["line_no"], li["item_code"], li["quantity"]) for li in cart["lines"]]
    if lines[: len(ack.lines)] != list(ack.lines):
        missing.append(f"{len(lines)} lines, answered {len(ack.lines)}")
    payments = [(p["payment_no"], p["payment_code"]) for p in cart["payments"]]
    if payments[: len(ack.payments)] != list(ack.payments):
        missing.append(f"{len(payments)} payments, answered {len(ack.payments)}")
    if ack.receipt_no is not None:
        if cart.get("receipt_no") != ack.receipt_no:
            missing.append(f"receipt {cart.get('receipt_no')}, answered {ack.receipt_no}")
        record = stored.transactions.get(ack.cart_id)
        if record is None or record["receipt_no"] != ack.receipt_no:
            missing.append("transaction record")
        if stored.counters.get(f"{DEMO_STORE}/{ack.terminal_no}", 0) < ack.receipt_no:
            missing.append("receipt counter")
    return missing


def _record_id(ack: Ack) -> str:
    # cart/services/idempotency.py keys its records so.
    return f"{DEMO_STORE}/{ack.terminal_no}/{ack.key}"


def _batches(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), AUDIT_BATCH):
        yield values[start : start + AUDIT_BATCH]


def read_stored(uri: str, tenant_id: str, acks: Sequence[Ack]) -> Stored:
    """The carts, transaction records, receipt counters and Idempotency-Key answers the
    changes in `acks` should have left, straight from the database (blocking)."""
    cart_ids = sorted({ack.cart_id for ack in acks})
    billed = sorted({ack.cart_id for ack in acks if ack.receipt_no is not None})
    record_ids = sorted({_record_id(ack) for ack in acks if ack.key is not None})
    stored = Stored({}, {}, {}, set())
    with database_client(uri) as client:
        for name in cart_tenant_databases(client, tenant_id):
            db = client[name]
            for ids in _batches(cart_ids):
                for doc in db[CARTS].find({"_id": {"$in": list(ids)}}):
                    stored.carts[doc["_id"]] = doc
            for ids in _batches(billed):
                for doc in db[TRANSACTIONS].find({"cart_id": {"$in": list(ids)}}):
                    stored.transactions[doc["cart_id"]] = doc
            for doc in db[COUNTERS].find({}):
                stored.counters[doc["_id"]] = int(doc["last_receipt_no"])
            for ids in _batches(record_ids):
                for doc in db[IDEMPOTENCY].find({"_id": {"$in": list(ids)}}, {"_id": 1}):
                    stored.records.add(doc["_id"])
    return stored


def audit(uri: str, tenant_id: str, acks: Sequence[Ack]) -> dict[int, list[str]]:
    """What is missing of each change in `acks`, by its number (only those missing some)."""
    stored = read_stored(uri, tenant_id, acks)
    found = {ack.number: missing_from(ack, stored) for ack in acks}
    return {number: missing for number, missing in found.items() if missing}


@dataclass
class RecordedSales(SalesLoad):
    """Terminals selling nonstop, every change answered 2xx recorded as an `Ack`."""

    terminal_nos: list[int] = field(default_factory=list)
    """The terminal of each API key given to `selling`, in order."""
    acks: list[Ack] = field(default_factory=list)
    rng_seed: int = 0

    async def change(
        self, client: httpx.AsyncClient, seed: int, kind: str, path: str, body: object = None,
        *, keyed: bool,
    ) -> Any | None:  # fmt: skip
        """The answer's data if cart answered 2xx (recorded), else None (counted failed)."""
        self.result.calls += 1
        key = str(uuid.uuid4()) if keyed else None
        headers = {IDEMPOTENCY_HEADER: key} if key else None
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self.result.failures[f"POST {route(path)}: {type(exc).__name__}"] += 1
            return None
        if response.status_code >= 300:
            try:
                code = response.json().get("error", {}).get("code", "?")
            except ValueError:  # not cart's envelope (the server's own 500)
                code = "?"
            self.result.failures[f"POST {route(path)}: {response.status_code} {code}"] += 1
            return None
        data = response.json()["data"]
        number = len(self.acks)
        self.acks.append(Ack.of(number, kind, self.terminal_nos[seed], data, key))
        return data

    async def terminal(self, client: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(self.rng_seed * 1000 + seed)
        sale = 0
        while not self.stop.is_set():
            sale += 1
            if not await self.sale(client, seed, rng, keyed=sale % 2 == 0):
                await asyncio.sleep(0.1)  # the database is likely away: do not spin

    async def sale(
        self, client: httpx.AsyncClient, seed: int, rng: random.Random, *, keyed: bool
    ) -> bool:
        """One whole sale; False as soon as a call failed (the cart is left as it is)."""
        created = await self.change(client, seed, "create", "/carts", keyed=keyed)
        if created is None:
            return False
        cart = f"/carts/{created['cartId']}"
        for _ in range(ITEMS_PER_SALE):
            item = [{"itemCode": rng.choice(self.codes)}]
            added = await self.change(client, seed, "add", f"{cart}/lineItems", item, keyed=keyed)
            if added is None:
                return False
        paying = await self.change(client, seed, "subtotal", f"{cart}/subtotal", keyed=keyed)
        if paying is None:
            return False
        due = Decimal(paying["totals"]["balanceDue"])
        if due > 0:
            payment = {"paymentCode": "CASH", "amount": str(due)}
            paid = await self.change(client, seed, "pay", f"{cart}/payments", payment, keyed=keyed)
            if paid is None:
                return False
        if await self.change(client, seed, "bill", f"{cart}/bill", keyed=keyed) is None:
            return False
        self.result.sales += 1
        return True


@dataclass
class Round:
    kill: int
    after_seconds: float
    """Since the previous round's audit (or the start of the load)."""
    acknowledged: int
    """Changes answered 2xx before this kill, in this round."""
    ready_seconds: float = 0.0
    """From the kill until cart's /ready answered 200 again (--down included)."""
    audited: int = 0
    lost: int = 0


@dataclass
class DrillReport:
    kills: int
    terminals: int
    database_args: list[str]
    transport: str
    seconds: float = 0.0
    calls: int = 0
    failed_calls: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    sales: int = 0
    rounds: list[Round] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list, repr=False)
    losses: dict[int, Loss] = field(default_factory=dict)
    """By the number of the change lost (counted once, at the first audit that missed it)."""
    tenant_id: str = ""
    unkept_logged: int = 0
    """How many times cart logged that it could not keep an Idempotency-Key answer: at least
    `not_kept`, if those are what they look like."""

    @property
    def lost(self) -> list[Loss]:
        found = (loss for loss in self.losses.values() if not loss.not_kept)
        return sorted(found, key=lambda loss: loss.ack.number)

    @property
    def not_kept(self) -> int:
        return sum(1 for loss in self.losses.values() if loss.not_kept)

    @property
    def carts(self) -> int:
        return len({ack.cart_id for ack in self.acks})

    @property
    def lost_carts(self) -> int:
        return len({loss.ack.cart_id for loss in self.lost if not loss.only_idempotency_record})

    def record(self, missing: dict[int, list[str]], kill: int, killed_at: float | None) -> int:
        """Keeps what an audit found missing (newly); returns how many changes are newly
        lost (not counting Idempotency-Key answers not kept)."""
        new = 0
        for number, what in missing.items():
            if number in self.losses:
                continue
            ack = self.acks[number]
            before = (killed_at - ack.at) * 1000 if killed_at is not None else 0.0
            self.losses[number] = loss = Loss(ack, what, kill, before)
            new += not loss.not_kept
        return new

    def summary(self) -> str:
        by_kind = Counter(loss.ack.kind for loss in self.lost)
        records_only = sum(1 for loss in self.lost if loss.only_idempotency_record)
        database = " ".join(self.database_args) or "default settings"
        lines = [
            f"database-kill drill: SecantusDB ({database}), cart over {self.transport}, "
            f"{self.terminals} terminals, {self.seconds:.0f}s",
            f"  kills: {len(self.rounds)} of {self.kills}",
            f"  cart calls: {self.calls} ({self.sales} whole sales), {self.failed_calls} failed: "
            + (", ".join(f"{n} x {what}" for what, n in self.failures.most_common()) or "none"),
            f"  changes acknowledged: {len(self.acks)} in {self.carts} carts; audited after a "
            f"kill: {self.audited_after_kill}",
            f"  LOST: {len(self.lost)} changes in {self.lost_carts} carts"
            + (f" (by kind: {dict(by_kind)})" if by_kind else "")
            + (f", {records_only} of them only their idempotency record" if records_only else ""),
            f"  not lost: {self.not_kept} Idempotency-Key answers of changes answered just after "
            f"a kill, not kept (the database was gone; the key in the cart covers a retry); "
            f"cart logged {self.unkept_logged} answers not kept",
        ]
        for item in self.rounds:
            lines.append(
                f"    kill {item.kill}: after {item.after_seconds:.1f}s of load, "
                f"{item.acknowledged} changes answered in the round, cart ready again "
                f"{item.ready_seconds:.1f}s after the kill, {item.audited} audited, "
                f"{item.lost} newly lost"
            )
        lines += [f"    lost: {loss.describe()}" for loss in self.lost[:50]]
        if len(self.lost) > 50:
            lines.append(f"    ... and {len(self.lost) - 50} more (--out has them all)")
        return "\n".join(lines)

    @property
    def audited_after_kill(self) -> int:
        """Changes answered before the last kill: each was audited after at least one."""
        return max((r.audited for r in self.rounds), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "kills": len(self.rounds),
            "terminals": self.terminals,
            "databaseArgs": self.database_args,
            "transport": self.transport,
            "seconds": round(self.seconds, 1),
            "calls": self.calls,
            "failedCalls": self.failed_calls,
            "failures": dict(self.failures),
            "sales": self.sales,
            "acknowledged": len(self.acks),
            "carts": self.carts,
            "auditedAfterKill": self.audited_after_kill,
            "lost": len(self.lost),
            "lostCarts": self.lost_carts,
            "idempotencyAnswersNotKept": self.not_kept,
            "idempotencyAnswersNotKeptLogged": self.unkept_logged,
            "rounds": [asdict(item) for item in self.rounds],
            "losses": [
                {
                    "kind": loss.ack.kind,
                    "cartId": loss.ack.cart_id,
                    "terminalNo": loss.ack.terminal_no,
                    "keyed": loss.ack.key is not None,
                    "answeredState": loss.ack.state,
                    "answeredLines": len(loss.ack.lines),
                    "answeredReceiptNo": loss.ack.receipt_no,
                    "missing": loss.missing,
                    "kill": loss.kill,
                    "beforeKillMs": round(loss.before_kill_ms, 1),
                }
                for loss in self.lost
            ],
        }


async def run_drill(
    stack: DurableStack,
    *,
    kills: int,
    seconds_per_round: float,
    down_seconds: float,
    seed: int,
    transport: Transport,
) -> DrillReport:
    """Kills `stack`'s database `kills` times under load, auditing after each restart."""
    report = DrillReport(
        kills, len(stack.keys), list(stack.database_args), str(transport),
        tenant_id=stack.tenant_id,
    )  # fmt: skip
    rng = random.Random(seed)
    load = RecordedSales(
        stack.codes, DrillResult(transport, kills), terminal_nos=stack.terminal_nos,
        rng_seed=seed,
    )  # fmt: skip
    report.acks = load.acks
    started = time.monotonic()
    killed_at: float | None = None
    async with load.selling(stack.cart.url, stack.keys):
        round_start, acks_before = time.monotonic(), 0
        for kill in range(1, kills + 1):
            await asyncio.sleep(rng.uniform(0.5, 1.0) * seconds_per_round)
            stack.kill_database()
            killed_at = time.monotonic()
            current = Round(kill, killed_at - round_start, _answered_before(load.acks, killed_at))
            current.acknowledged -= acks_before
            acks_before += current.acknowledged
            await asyncio.sleep(down_seconds)
            await asyncio.to_thread(stack.start_database)
            await stack.cart_ready()
            current.ready_seconds = time.monotonic() - killed_at
            # Only changes answered by now: those answered later may not be read yet.
            audited = list(load.acks)
            missing = await asyncio.to_thread(audit, stack.uri, stack.tenant_id, audited)
            current.audited = len(audited)
            current.lost = report.record(missing, kill, killed_at)
            report.rounds.append(current)
            print(
                f"kill {kill}: {current.acknowledged} changes answered in the round, "
                f"{current.audited} audited, {current.lost} newly lost",
                flush=True,
            )
            round_start = time.monotonic()
    # The load has stopped: every change is recorded. The last audit of all of them.
    missing = await asyncio.to_thread(audit, stack.uri, stack.tenant_id, list(load.acks))
    if killed_at is not None:
        before = {n: what for n, what in missing.items() if load.acks[n].at <= killed_at}
        report.record(before, len(report.rounds), killed_at)
    report.record(missing, 0, None)  # answered after the last kill: none lost them
    report.seconds = time.monotonic() - started
    report.calls = load.result.calls
    report.failed_calls = load.result.failed
    report.failures = load.result.failures
    report.sales = load.result.sales
    report.unkept_logged = await asyncio.to_thread(_logged, stack, UNKEPT_LOG)
    return report


def _logged(stack: DurableStack, message: str) -> int:
    log = stack.cart.process.log_path
    if log is None or not log.exists():
        return 0
    return log.read_text(errors="replace").count(message)


def _answered_before(acks: Sequence[Ack], moment: float) -> int:
    return sum(1 for ack in acks if ack.at <= moment)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-db-kill-drill", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10, help="database kills")
    parser.add_argument("--terminals", type=int, default=8, help="terminals selling nonstop")
    parser.add_argument(
        "--seconds-per-round",
        type=float,
        default=5.0,
        help="the kill comes at a random moment between half of this and this after the "
        "previous round (cart ready again, audited)",
    )
    parser.add_argument(
        "--down", type=float, default=1.0, help="seconds the database stays down per kill"
    )
    parser.add_argument(
        "--sync-on-commit",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=f"SecantusDB's {SYNC_ON_COMMIT} (fsync of its log on every commit)",
    )
    parser.add_argument(
        "--database-arg",
        action="append",
        default=[],
        help="another argument for secantusd-py (repeatable: --database-arg=--cache-size=256M)",
    )
    parser.add_argument(
        "--transport", type=Transport, default=Transport.HTTP, help="cart's to master-data"
    )
    parser.add_argument("--items", type=int, default=30, help="items the terminals sell")
    parser.add_argument("--seed", type=int, default=1, help="of the kill moments and the items")
    parser.add_argument(
        "--code",
        type=Path,
        help="a checkout whose cart and master-data run instead of the installed ones "
        "(e.g. an older commit: git archive REV | tar -x -C DIR)",
    )
    parser.add_argument("--out", type=Path, help="write the report here as JSON")
    parser.add_argument(
        "--work", type=Path, help="keep logs and data here (default: a temporary folder)"
    )
    options = parser.parse_args(argv)
    if min(options.kills, options.terminals, options.items) < 1:
        parser.error("kills, terminals and items must be at least 1")
    if options.seconds_per_round <= 0 or options.down < 0:
        parser.error("--seconds-per-round must be positive, --down not negative")
    return options


def database_args(options: argparse.Namespace) -> list[str]:
    return [*([SYNC_ON_COMMIT] if options.sync_on_commit else []), *options.database_arg]


async def drill(options: argparse.Namespace, work: Path) -> DrillReport:
    async with durable_stack(
        work, Tokens.generate(), database_args=database_args(options),
        transport=options.transport, terminals=options.terminals, items=options.items,
        code=options.code,
    ) as stack:  # fmt: skip
        return await run_drill(
            stack, kills=options.kills, seconds_per_round=options.seconds_per_round,
            down_seconds=options.down, seed=options.seed, transport=options.transport,
        )  # fmt: skip


async def _main(options: argparse.Namespace) -> DrillReport:
    if options.work is not None:
        report = await drill(options, options.work)
    else:
        with tempfile.TemporaryDirectory(prefix="db-kill-drill-") as folder:
            report = await drill(options, Path(folder))
    print(report.summary(), flush=True)
    if options.out is not None:
        options.out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    return 1 if asyncio.run(_main(_options(argv))).lost else 0


if __name__ == "__main__":
    sys.exit(main())
