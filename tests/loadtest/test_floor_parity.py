"""The floor keeps to cart: the bare cart (pos_loadtest.benches.floor.bare_cart), which the floor
bench measures cart against, does cart's database work and no less.

cart over each transport and the bare cart, each behind a tap of its own (tests/mongo_tap.py)
on the session's database and master-data, sell the same scripted sale (items of every tax
rule, a store price, a zero store price, a three-decimal price, a price entered at the till,
several items in one call; subtotal, cash with change, bill) and a cancelled one, each from a
new terminal. Then, ids, times, terminal numbers and the driver's session fields aside:

- the same database commands, in the same order, with the same filters, updates and
  documents (the document sequences of inserts and updates included);
- the same stored documents (carts, transaction records, receipt counters), read back from
  the database and compared with their field order and BSON types (Decimal128, int32/int64,
  dates);
- the same answers, with their field order.

If the floor drifted into a toy (a field dropped from its stored cart, a write without the
version filter, a read cart does not make), these fail.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from bson import json_util
from pymongo import AsyncMongoClient

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import start_cart
from pos_loadtest.benches.floor.bare_cart import start_bare_cart
from tests.mongo_tap import MongoTap, Sent
from tests.support import Stack, TerminalNumbers, register_terminal, terminal_client

BARE = "bare"
MONITORING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions"})
SESSION_FIELDS = frozenset({"lsid", "txnNumber", "$clusterTime"})
"""The driver's own per-session values: dropped."""
VARYING_FIELDS = frozenset({"maxTimeMS", "afterClusterTime"})
"""Present alike, valued by the moment (what is left of an operation's deadline)."""
TIME_FIELDS = frozenset({"createdAt", "updatedAt", "expiresAt"})
TERMINAL_FIELDS = frozenset({"terminal_no", "terminalNo"})
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_KEY_HASH = re.compile(r"[0-9a-f]{64}")
_COUNTER = re.compile(r"([A-Za-z0-9_.-]+)/\d+")


@dataclass
class Normaliser:
    """One contender's volatile values as placeholders: ids numbered by first sight, so two
    runs that used their ids alike read the same."""

    ids: dict[str, str] = field(default_factory=dict)

    def __call__(self, value: Any, name: str = "") -> Any:
        if name in VARYING_FIELDS:
            return f"<{name}>"
        if name in TERMINAL_FIELDS:
            return "<terminal>"
        if name == "requestId":
            return "<request>"
        if name in TIME_FIELDS or isinstance(value, datetime):
            return "<time>"
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items() if k not in SESSION_FIELDS}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            if _HEX_ID.fullmatch(value):
                return self.ids.setdefault(value, f"<id{len(self.ids) + 1}>")
            if _KEY_HASH.fullmatch(value):
                return "<key hash>"
            if counter := _COUNTER.fullmatch(value):
                return f"{counter[1]}/<terminal>"
        return value


def canonical(value: Any) -> str:
    """Order and BSON types spelled out: Decimal128 and int64 are not strings and ints."""
    return json_util.dumps(value, json_options=json_util.CANONICAL_JSON_OPTIONS, indent=1)


def step_text(value: Any) -> str:
    return json.dumps(value, indent=1)


@dataclass
class Contender:
    name: str
    url: str
    tap: MongoTap
    process: ManagedProcess
    startup: list[Sent] = field(default_factory=list)
    api_key: str = ""
    terminal_no: int = 0
    steps: list[tuple[str, int, Any]] = field(default_factory=list)
    cart_ids: list[str] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


def _database_commands(tap: MongoTap) -> list[Sent]:
    return tap.commands(lambda sent: sent.name not in MONITORING)


async def _start(name: str, stack: Stack) -> Contender:
    parts = urlsplit(stack.mongodb_uri)
    assert parts.hostname is not None
    assert parts.port is not None
    tap = await MongoTap(parts.hostname, parts.port).start()
    # From a thread: the tap serves on this loop while the process starts.
    if name == BARE:
        bare = await asyncio.to_thread(
            start_bare_cart, tap.uri, stack.tokens, stack.master_data,
            log_dir=stack.log_dir, name="bare-cart-tapped",
        )  # fmt: skip
        contender = Contender(name, bare.url, tap, bare.process)
    else:
        cart = await asyncio.to_thread(
            start_cart, tap.uri, stack.tokens, stack.master_data, transport=Transport(name),
            log_dir=stack.log_dir, name=f"cart-{name}-tapped",
        )  # fmt: skip
        contender = Contender(name, cart.url, tap, cart.process)
    contender.startup = _database_commands(tap)
    return contender


async def _sell(contender: Contender) -> None:
    """The scripted sale and the cancelled one, every answer recorded."""
    async with terminal_client(contender.url, contender.api_key) as client:

        async def call(step: str, path: str, body: Any = None) -> Any:
            response = await client.post(path, json=body)
            contender.steps.append((step, response.status_code, response.json()))
            assert response.status_code in (200, 201), (contender.name, step, response.text)
            return response.json()["data"]

        sale = (await call("create", "/carts"))["cartId"]
        contender.cart_ids.append(sale)
        c = f"/carts/{sale}"
        await call("store price, internal tax", f"{c}/lineItems", [{"itemCode": "ITEM0007"}])
        await call("zero store price", f"{c}/lineItems", [{"itemCode": "ITEM0005"}])
        await call("two items, a quantity, three decimals", f"{c}/lineItems",
                   [{"itemCode": "ITEM0001", "quantity": 2}, {"itemCode": "ITEM0017"}])  # fmt: skip
        await call("price entered, exempt", f"{c}/lineItems",
                   [{"itemCode": "ITEM0003", "unitPrice": "4.5"}])  # fmt: skip
        await call("external rounded up, restricted", f"{c}/lineItems",
                   [{"itemCode": "ITEM0004"}, {"itemCode": "ITEM0010", "quantity": 3}])  # fmt: skip
        totals = (await call("subtotal", f"{c}/subtotal"))["totals"]
        cash = str(math.ceil(Decimal(totals["balanceDue"])) + 5)
        await call("cash", f"{c}/payments", {"paymentCode": "CASH", "amount": cash})
        await call("bill", f"{c}/bill")

        void = (await call("create 2", "/carts"))["cartId"]
        contender.cart_ids.append(void)
        v = f"/carts/{void}"
        await call("scan 2", f"{v}/lineItems", [{"itemCode": "ITEM0002"}])
        await call("scan 2 again", f"{v}/lineItems", [{"itemCode": "ITEM0014"}])
        await call("cancel", f"{v}/cancel")


@pytest.fixture(scope="module")
async def sold(
    stack: Stack, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> AsyncIterator[dict[str, Contender]]:
    """The three contenders, each after its two sales."""
    contenders: dict[str, Contender] = {}
    try:
        for name in (*(transport.value for transport in Transport), BARE):
            contenders[name] = await _start(name, stack)
        registrar = contenders[Transport.HTTP.value]
        for contender in contenders.values():
            # Registered through cart (the bare cart has no admin API): same database.
            contender.terminal_no = terminal_numbers.take()
            contender.api_key = await register_terminal(
                registrar.url, stack.tokens.cart_admin, demo.tenant_id, "S001",
                contender.terminal_no,
            )  # fmt: skip
        for contender in contenders.values():
            contender.tap.sent.clear()
            await _sell(contender)
            contender.sent = _database_commands(contender.tap)
        yield contenders
    finally:
        for contender in contenders.values():
            await asyncio.to_thread(contender.process.stop)
            await contender.tap.close()


def _command_text(sent: Sent, normalise: Normaliser) -> str:
    return canonical(
        {
            "command": normalise(sent.document),
            "sequences": {name: normalise(docs) for name, docs in sent.sequences.items()},
        }
    )


def _assert_alike(texts: dict[str, list[str]], what: str) -> None:
    """Every contender's texts equal cart over HTTP's, one by one."""
    reference_name, reference = next(iter(texts.items()))
    for name, mine in texts.items():
        for number, (expected, got) in enumerate(zip(reference, mine, strict=False)):
            assert got == expected, (
                f"{what} {number + 1}: {name} differs from {reference_name}\n"
                f"--- {reference_name}\n{expected}\n--- {name}\n{got}"
            )
        assert len(mine) == len(reference), (
            f"{what}: {name} {len(mine)}, {reference_name} {len(reference)}"
        )


def _texts(
    contenders: dict[str, Contender], pick: Callable[[Contender], list[Sent]]
) -> dict[str, list[str]]:
    return {
        name: [_command_text(sent, normaliser) for sent in pick(contender)]
        for name, contender in contenders.items()
        for normaliser in [Normaliser()]
    }


def test_the_same_commands_at_start_up(sold: dict[str, Contender]) -> None:
    texts = _texts(sold, lambda contender: contender.startup)
    assert [json.loads(t)["command"]["createIndexes"] for t in texts[BARE]] == ["terminals"] * 2
    _assert_alike(texts, "start-up command")


def test_the_same_database_commands_in_the_same_order(sold: dict[str, Contender]) -> None:
    texts = _texts(sold, lambda contender: contender.sent)
    names = [sent.name for sent in sold[BARE].sent]
    # The check cannot pass on little: the sales found the terminal, made the tenant's
    # indexes, wrote versioned carts and closed two in transactions.
    assert names.count("find") == 1, names
    assert names.count("createIndexes") == 5, names
    assert names.count("commitTransaction") == 2, names
    assert names.count("update") == 11, names
    _assert_alike(texts, "database command")


async def test_the_same_stored_documents(
    sold: dict[str, Contender], stack: Stack, demo: DemoCatalog
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    texts: dict[str, list[str]] = {}
    try:
        db = client[f"cart_{demo.tenant_id}"]
        for name, contender in sold.items():
            normalise = Normaliser()
            stored = []
            for cart_id in contender.cart_ids:
                cart = await db["carts"].find_one({"_id": cart_id})
                record = await db["transactions"].find_one({"cart_id": cart_id})
                assert cart is not None, (name, cart_id)
                assert record is not None, (name, cart_id)
                stored += [cart, record]
            counter = await db["receipt_counters"].find_one(
                {"_id": f"S001/{contender.terminal_no}"}
            )
            assert counter is not None, name
            assert counter["last_receipt_no"] == 2, (name, counter)
            stored.append(counter)
            texts[name] = [canonical(normalise(document)) for document in stored]
    finally:
        await client.close()
    assert '"$numberDecimal"' in texts[BARE][0]
    _assert_alike(texts, "stored document")


def test_the_same_answers(sold: dict[str, Contender]) -> None:
    texts = {
        name: [step_text([step, status, normalise(body)]) for step, status, body in contender.steps]
        for name, contender in sold.items()
        for normalise in [Normaliser()]
    }
    billed = next(body for step, _, body in sold[BARE].steps if step == "bill")["data"]
    assert billed["state"] == "Completed"
    assert {tax["taxType"] for tax in billed["taxes"]} == {"external", "internal", "exempt"}
    _assert_alike(texts, "answer")
