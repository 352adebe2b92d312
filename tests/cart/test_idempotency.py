"""Idempotency-Key on cart's changes, against real processes on both transports: a terminal
that gives up waiting and sends the same call again gets one effect and the first answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess, wait_for_status
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.support import (
    Stack,
    TerminalNumbers,
    data,
    error_code,
    expire,
    new_terminal,
    register_terminal,
    terminal_client,
)

# A freeze well inside the driver's 2 s heartbeat timeout (MONGODB_TIMEOUT_SECONDS): a longer
# one makes cart call the database gone, rightly, until its next heartbeat sees it back.
HOLD_SECONDS = 0.6
IMPATIENT = httpx.Timeout(10, read=0.3)


@dataclass
class SlowStack:
    """cart (both transports) on a database of its own, and a master-data of its own: each
    can be frozen for a moment to make a call take longer than the terminal waits."""

    cart_database: ManagedProcess
    database_uri: str
    master: MasterDataProcess
    carts: dict[Transport, CartProcess]


@pytest.fixture(scope="module")
def slow_stack(
    stack: Stack, demo: DemoCatalog, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlowStack]:
    logs = tmp_path_factory.mktemp("idempotency")
    database, uri = start_secantus(":memory:", log_dir=logs)
    master = start_master_data(stack.mongodb_uri, stack.tokens, log_dir=logs)
    patient = {"HTTP_TIMEOUT": "5", "GRPC_TIMEOUT": "5"}
    carts = {
        transport: start_cart(
            uri, stack.tokens, master, transport=transport, log_dir=logs,
            extra_env=patient, name=f"cart-{transport}",
        )
        for transport in Transport
    }  # fmt: skip
    yield SlowStack(database, uri, master, carts)
    for cart in carts.values():
        cart.process.stop()
    master.process.resume()
    master.process.stop()
    database.resume()
    database.stop()


@pytest.fixture(params=Transport)
async def terminal(
    request: pytest.FixtureRequest,
    slow_stack: SlowStack,
    stack: Stack,
    terminal_numbers: TerminalNumbers,
) -> AsyncIterator[httpx.AsyncClient]:
    cart = slow_stack.carts[request.param]
    # Connected to master-data before a test freezes it (a channel that never connected
    # fails fast instead of waiting: 503, not the slow answer these tests need).
    async with httpx.AsyncClient(timeout=10) as probe:
        data(await probe.get(f"{cart.url}/ready"))
    async with await new_terminal(
        cart.url, stack.tokens.cart_admin, "demo", "S001", terminal_numbers.take()
    ) as client:
        yield client


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _impatient_then_retry(
    client: httpx.AsyncClient, path: str, body: object, freeze: ManagedProcess
) -> httpx.Response:
    """Sends the call while `freeze` is frozen, gives up before it answers, and sends it again
    with the same key (while the first is still in flight). Either of the two may do the
    change (both wait on the frozen process): one does, the other answers the same."""
    headers = _key()
    freeze.pause()
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(path, json=body, headers=headers, timeout=IMPATIENT)
        retry = asyncio.create_task(client.post(path, json=body, headers=headers))
        await asyncio.sleep(HOLD_SECONDS)
    finally:
        freeze.resume()
    answer = await retry
    again = await client.post(path, json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.status_code == answer.status_code
    assert again.json()["data"] == answer.json()["data"]
    return answer


async def test_a_retried_add_pays_once_and_bills_once(
    terminal: httpx.AsyncClient, slow_stack: SlowStack
) -> None:
    cart_id = data(await terminal.post("/carts", headers=_key()), 201)["cartId"]
    cart = f"/carts/{cart_id}"

    added = await _impatient_then_retry(
        terminal, f"{cart}/lineItems", [{"itemCode": "ITEM0001", "quantity": 2}],
        slow_stack.master.process,
    )  # fmt: skip
    assert [line["itemCode"] for line in data(added)["lines"]] == ["ITEM0001"]
    assert len(data(await terminal.get(cart))["lines"]) == 1

    total = Decimal(data(await terminal.post(f"{cart}/subtotal"))["totals"]["totalAmount"])
    paid = await _impatient_then_retry(
        terminal, f"{cart}/payments", {"paymentCode": "CASH", "amount": str(total)},
        slow_stack.master.process,
    )  # fmt: skip
    assert len(data(paid)["payments"]) == 1
    assert data(paid)["totals"]["balanceDue"] == "0.00"

    billed = await _impatient_then_retry(terminal, f"{cart}/bill", None, slow_stack.cart_database)
    # The freeze may have outlasted the driver's heartbeat: then cart answers 503 until it
    # has seen the database again (a moment later); the next calls wait for that.
    await wait_for_status(
        f"{terminal.base_url.scheme}://{terminal.base_url.netloc.decode()}/ready", 200
    )
    receipt = data(billed)["receiptNo"]
    # One receipt number was used: the next sale of this terminal gets the next one.
    other = data(await terminal.post("/carts"), 201)["cartId"]
    data(await terminal.post(f"/carts/{other}/cancel"))
    assert data(await terminal.get(f"/transactions/{receipt + 1}"))["cartId"] == other
    assert data(await terminal.get(f"/transactions/{receipt}"))["cartId"] == cart_id


async def test_a_bill_retried_without_a_key_answers_its_receipt(
    terminal: httpx.AsyncClient,
) -> None:
    cart_id = data(await terminal.post("/carts"), 201)["cartId"]
    cart = f"/carts/{cart_id}"
    data(await terminal.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0002"}]))
    data(await terminal.post(f"{cart}/subtotal"))
    data(await terminal.post(f"{cart}/payments", json={"paymentCode": "CASH", "amount": "1000"}))
    first = data(await terminal.post(f"{cart}/bill"))
    second = data(await terminal.post(f"{cart}/bill"))
    assert second["receiptNo"] == first["receiptNo"]
    assert second["state"] == "Completed"
    # Another request, under a key of its own, is refused: the cart is billed.
    refused = await terminal.post(f"{cart}/bill", headers=_key())
    assert error_code(refused, 409) == "BILL_NOT_ALLOWED_IN_COMPLETED"
    cancelled = await terminal.post(f"{cart}/cancel")
    assert error_code(cancelled, 409) == "CANCEL_NOT_ALLOWED_IN_COMPLETED"


async def test_one_key_one_request(terminal: httpx.AsyncClient) -> None:
    key = _key()
    cart_id = data(await terminal.post("/carts", headers=key), 201)["cartId"]
    again = await terminal.post("/carts", headers=key)
    assert data(again, 201)["cartId"] == cart_id
    assert again.headers["idempotent-replayed"] == "true"
    path = f"/carts/{cart_id}/lineItems"
    key = _key()
    data(await terminal.post(path, json=[{"itemCode": "ITEM0003"}], headers=key))
    # The same request spelled differently is the same request.
    respelled = await terminal.post(
        path, content=b'[ {"quantity": 1, "itemCode": "ITEM0003"} ]',
        headers={**key, "content-type": "application/json"},
    )  # fmt: skip
    assert len(data(respelled)["lines"]) == 1
    other_body = await terminal.post(path, json=[{"itemCode": "ITEM0004"}], headers=key)
    assert error_code(other_body, 422) == "IDEMPOTENCY_KEY_REUSED"
    other_path = await terminal.post(f"/carts/{cart_id}/subtotal", headers=key)
    assert error_code(other_path, 422) == "IDEMPOTENCY_KEY_REUSED"
    assert len(data(await terminal.get(f"/carts/{cart_id}"))["lines"]) == 1
    # A refusal is an answer too: the same refusal comes back, nothing is tried again.
    refusal_key = _key()
    refused = await terminal.post(f"/carts/{cart_id}/bill", headers=refusal_key)
    assert error_code(refused, 409) == "BILL_NOT_ALLOWED_IN_ENTERING_ITEM"
    replayed = await terminal.post(f"/carts/{cart_id}/bill", headers=refusal_key)
    assert replayed.json()["error"] == refused.json()["error"]
    assert replayed.headers["idempotent-replayed"] == "true"
    # The IETF draft's quoted form is the same key.
    quoted = {"Idempotency-Key": f'"{refusal_key["Idempotency-Key"]}"'}
    assert (await terminal.post(f"/carts/{cart_id}/bill", headers=quoted)).json()["error"] == (
        refused.json()["error"]
    )
    for bad in (b"", b"a b", b"x" * 256, b'"', "é".encode("latin-1")):
        response = await terminal.post("/carts", headers=[(b"Idempotency-Key", bad)])
        assert error_code(response, 422) == "INVALID_IDEMPOTENCY_KEY", bad


async def test_one_key_on_two_carts_at_once_makes_one_change(terminal: httpx.AsyncClient) -> None:
    """A key is claimed before its change runs: the same key sent for two carts at the same
    moment changes one of them, and the other call is refused, then and on a retry (both
    were applied before, and a retry of the second was refused for a change it had made)."""
    body = [{"itemCode": "ITEM0003"}]
    for _ in range(10):
        cart_ids = [data(await terminal.post("/carts"), 201)["cartId"] for _ in range(2)]
        key = _key()
        paths = [f"/carts/{cart_id}/lineItems" for cart_id in cart_ids]
        answers = await asyncio.gather(
            *(terminal.post(path, json=body, headers=key) for path in paths)
        )
        assert sorted(answer.status_code for answer in answers) == [200, 422]
        lines = [
            len(data(await terminal.get(f"/carts/{cart_id}"))["lines"]) for cart_id in cart_ids
        ]
        for path, answer, count in zip(paths, answers, lines, strict=True):
            retried = await terminal.post(path, json=body, headers=key)
            if answer.status_code == 200:
                assert count == 1
                assert retried.headers["idempotent-replayed"] == "true"
                assert data(retried) == data(answer)
            else:
                assert count == 0
                assert error_code(answer, 422) == "IDEMPOTENCY_KEY_REUSED"
                assert error_code(retried, 422) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_key_whose_answer_was_never_kept_is_still_one_request(
    terminal: httpx.AsyncClient, slow_stack: SlowStack
) -> None:
    """A process that stops between a change and keeping its answer leaves the key claimed,
    with the request's fingerprint, and the key in the cart. Another request under the key is
    refused; the same request waits a moment for the answer, then answers the cart as it is
    and keeps that answer (it was answered without comparing, and kept nowhere)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(slow_stack.database_uri)
    records = mongo["cart_demo"]["idempotency_records"]
    try:
        cart_id = data(await terminal.post("/carts"), 201)["cartId"]
        path, body, key = f"/carts/{cart_id}/lineItems", [{"itemCode": "ITEM0005"}], _key()
        first = data(await terminal.post(path, json=body, headers=key))
        record = {"_id": {"$regex": f"/{key['Idempotency-Key']}$"}}
        # What the stopped process leaves: the claim, and no answer.
        claimed = await records.update_one(record, {"$set": {"status": None, "data": None}})
        assert claimed.modified_count == 1

        other = await terminal.post(path, json=[{"itemCode": "ITEM0006"}], headers=key)
        assert error_code(other, 422) == "IDEMPOTENCY_KEY_REUSED"
        retried = await terminal.post(path, json=body, headers=key)
        assert retried.headers["idempotent-replayed"] == "true"
        assert data(retried) == first
        kept = await records.find_one(record)
        assert kept is not None
        assert kept["status"] == 200
        assert orjson.loads(kept["data"]) == first
        replayed = await terminal.post(path, json=body, headers=key)
        assert data(replayed) == first
        assert len(data(await terminal.get(f"/carts/{cart_id}"))["lines"]) == 1
    finally:
        await mongo.close()


async def test_keys_belong_to_their_terminal(
    terminal: httpx.AsyncClient,
    stack: Stack,
    slow_stack: SlowStack,
    terminal_numbers: TerminalNumbers,
) -> None:
    key = _key()
    mine = data(await terminal.post("/carts", headers=key), 201)["cartId"]
    other_key = await register_terminal(
        slow_stack.carts[Transport.HTTP].url,
        stack.tokens.cart_admin,
        "demo",
        "S001",
        terminal_numbers.take(),
    )
    theirs = await terminal.post("/carts", headers={**key, "X-API-Key": other_key})
    assert data(theirs, 201)["cartId"] != mine
    assert "idempotent-replayed" not in theirs.headers


@pytest.mark.parametrize("with_keys", [True, False], ids=["own keys", "no keys"])
async def test_twenty_bills_and_twenty_cancels_close_a_cart_once(
    stack: Stack,
    slow_stack: SlowStack,
    terminal_numbers: TerminalNumbers,
    with_keys: bool,
) -> None:
    """40 calls at once through both cart processes: one wins, one receipt number is used.
    With a key each (40 requests), every other call is refused (409); without keys, a bill
    after the winning bill is a retry and answers the same receipt."""
    urls = [cart.url for cart in slow_stack.carts.values()]
    api_key = await register_terminal(
        urls[0], stack.tokens.cart_admin, "demo", "S001", terminal_numbers.take()
    )
    clients = [terminal_client(url, api_key, request_timeout=60) for url in urls]
    try:
        first = clients[0]
        cart_id = data(await first.post("/carts"), 201)["cartId"]
        cart = f"/carts/{cart_id}"
        data(await first.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0006"}]))
        data(await first.post(f"{cart}/subtotal"))
        payment = {"paymentCode": "CASH", "amount": "1000"}
        data(await first.post(f"{cart}/payments", json=payment))

        def headers() -> dict[str, str]:
            return _key() if with_keys else {}

        calls = [
            clients[n % 2].post(f"{cart}/{'bill' if n % 4 < 2 else 'cancel'}", headers=headers())
            for n in range(40)
        ]
        answers = await asyncio.gather(*calls)
        final = data(await first.get(cart))
        assert final["state"] in ("Completed", "Cancelled")
        receipt = final["receiptNo"]
        won = [a for a in answers if a.status_code == 200]
        if with_keys:
            assert len(won) == 1
        else:
            winner_path = "bill" if final["state"] == "Completed" else "cancel"
            assert all(winner_path in str(a.request.url) for a in won)
        assert {data(a)["receiptNo"] for a in won} == {receipt}
        for lost in (a for a in answers if a.status_code != 200):
            assert error_code(lost, 409).endswith(("_IN_COMPLETED", "_IN_CANCELLED")), lost.text
        # Exactly one receipt number used: the next close of this terminal takes the next.
        nxt = data(await first.post("/carts"), 201)["cartId"]
        assert data(await first.post(f"/carts/{nxt}/cancel"))["receiptNo"] == receipt + 1
    finally:
        for client in clients:
            await client.aclose()


async def test_a_create_key_used_again_after_its_cart_expired_names_no_new_cart(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> None:
    """A keyed create's cart id comes from its key. Once the cart and the key's kept answer
    have expired, the same key must not make a cart with that id again: after a bill, its
    receipt keeps the id (the bill of the new cart failed on it, 500, every time); before the
    database's TTL sweep, the expired cart still holds it (404 CART_NOT_FOUND, then kept as
    the key's answer). Both are 422 IDEMPOTENCY_KEY_EXPIRED now. The sweep is done here as
    the database's TTL monitor would (it runs once a minute); the abandoned cart's expiry is
    moved into the past (`expire`), and the key is used again through the other cart process,
    which holds no copy of it."""
    store, terminal_no = "S002", terminal_numbers.take()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    database = mongo[f"cart_{demo.tenant_id}"]
    api_key = await register_terminal(
        carts[Transport.HTTP].url, stack.tokens.cart_admin, demo.tenant_id, store, terminal_no
    )
    try:
        async with (
            terminal_client(carts[Transport.HTTP].url, api_key) as first,
            terminal_client(carts[Transport.GRPC].url, api_key) as client,
        ):
            billed_key, abandoned_key, live_key = _key(), _key(), _key()
            billed = data(await first.post("/carts", headers=billed_key), 201)["cartId"]
            steps = [
                await first.post(f"/carts/{billed}/lineItems", json=[{"itemCode": "ITEM0001"}]),
                await first.post(f"/carts/{billed}/subtotal"),
                await first.post(
                    f"/carts/{billed}/payments", json={"paymentCode": "CASH", "amount": "1000"}
                ),
                await first.post(f"/carts/{billed}/bill"),
            ]
            assert [step.status_code for step in steps] == [200] * 4
            abandoned = data(await first.post("/carts", headers=abandoned_key), 201)["cartId"]
            await expire(stack.mongodb_uri, demo.tenant_id, abandoned)

            def record(key: dict[str, str]) -> str:
                return f"{store}/{terminal_no}/{key['Idempotency-Key']}"

            # Swept: the billed cart and both keys' answers; the abandoned cart not yet.
            await database["carts"].delete_one({"_id": billed})
            assert await database["carts"].count_documents({"_id": abandoned}) == 1
            for key in (billed_key, abandoned_key):
                await database["idempotency_records"].delete_one({"_id": record(key)})
            for key in (billed_key, abandoned_key):
                again = await client.post("/carts", headers=key)
                assert error_code(again, 422) == "IDEMPOTENCY_KEY_EXPIRED"
                replayed = await client.post("/carts", headers=key)
                assert error_code(replayed, 422) == "IDEMPOTENCY_KEY_EXPIRED"
            assert await database["carts"].count_documents({"_id": billed}) == 0

            # A live cart that was billed: a retried create (its answer not kept) finds it.
            live = data(await client.post("/carts", headers=live_key), 201)["cartId"]
            await client.post(f"/carts/{live}/cancel")
            await database["idempotency_records"].delete_one({"_id": record(live_key)})
            retried = data(await client.post("/carts", headers=live_key), 201)
            assert (retried["cartId"], retried["state"]) == (live, "Cancelled")
    finally:
        await mongo.close()
