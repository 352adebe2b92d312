"""A client generated from the committed cart document (openapi-python-client, as a terminal
vendor would) runs the README's whole sale against the real services, on both transports."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pos_devstack.openapi import path_of
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.support import Stack, TerminalNumbers, register_terminal

PACKAGE = "generated_cart_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    root = tmp_path_factory.mktemp("generated")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(path_of("cart")), "--meta", "none",
         "--output-path", str(root / PACKAGE), "--config", str(config)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))


def _api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.cart.{name}")


def _models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


async def _sale(client_package: ModuleType, cart: CartProcess, api_key: str) -> list[object]:
    """The README's sale through the generated client; what it shows at each step."""
    models = _models()
    shown: list[object] = []
    client = client_package.Client(base_url=cart.url, headers={"X-API-Key": api_key})
    async with client as terminal:

        async def call(name: str, **arguments: Any) -> Any:
            key = str(uuid.uuid4())
            return await _api(name).asyncio_detailed(
                client=terminal, idempotency_key=key, **arguments
            )

        created = (await call("create_cart")).parsed.data
        cart_id = created.cart_id
        items = [
            models.ItemEntry(item_code="ITEM0001", quantity=2),
            models.ItemEntry(item_code="ITEM0007"),
            models.ItemEntry(item_code="ITEM0010"),
        ]
        added = (await call("add_line_items", cart_id=cart_id, body=items)).parsed.data
        shown.append([(ln.line_no, ln.item_code, ln.unit_price, ln.amount) for ln in added.lines])
        changed = await call(
            "change_quantity", cart_id=cart_id, line_no=1, body=models.QuantityChange(quantity=3)
        )
        shown.append(changed.parsed.data.totals.gross_amount)
        ten_percent = models.DiscountRequest(discount_type=models.DiscountType.PERCENT, value="10")
        discounted = await call("add_line_discount", cart_id=cart_id, line_no=2, body=ten_percent)
        shown.append(discounted.parsed.data.lines[1].discount_amount)
        refused = await call("add_line_discount", cart_id=cart_id, line_no=3, body=ten_percent)
        shown.append((int(refused.status_code), refused.parsed.error.code))
        paying = (await call("subtotal", cart_id=cart_id)).parsed.data
        shown.append((paying.state.value, paying.totals.total_amount))
        card = models.PaymentRequest(payment_code="CARD", amount="100.00")
        key = str(uuid.uuid4())
        for _ in range(2):  # the second is a retry: replayed, not paid again
            paid = await _api("add_payment").asyncio_detailed(
                client=terminal, cart_id=cart_id, body=card, idempotency_key=key
            )
        shown.append((paid.headers.get("idempotent-replayed"), len(paid.parsed.data.payments)))
        cash = models.PaymentRequest(payment_code="CASH", amount="400")
        totals = (await call("add_payment", cart_id=cart_id, body=cash)).parsed.data.totals
        shown.append((totals.balance_due, totals.change_amount))
        billed = (await call("bill", cart_id=cart_id)).parsed.data
        shown.append((billed.state.value, billed.receipt_no is not None))
        record = (
            await _api("get_transaction").asyncio_detailed(
                client=terminal, receipt_no=billed.receipt_no
            )
        ).parsed.data
        shown.append((record.transaction_type.value, record.totals.total_amount))
        late = await call(
            "add_line_items", cart_id=cart_id, body=[models.ItemEntry(item_code="ITEM0002")]
        )
        shown.append((int(late.status_code), late.parsed.error.code))
    return shown


async def test_a_generated_client_runs_the_sale_on_both_transports(
    client_package: ModuleType,
    stack: Stack,
    carts: dict[str, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> None:
    seen = {}
    for transport, cart in carts.items():
        api_key = await register_terminal(
            cart.url, stack.tokens.cart_admin, demo.tenant_id, "S001", terminal_numbers.take()
        )
        seen[transport] = await _sale(client_package, cart, api_key)
    assert seen["http"] == seen["grpc"]
    # The figures of the README's sale.
    assert seen["http"] == [
        [(1, "ITEM0001", "93.59", "187.18"), (2, "ITEM0007", "57.25", "57.25"),
         (3, "ITEM0010", "81.82", "81.82")],
        "419.84",
        "5.73",
        (422, "DISCOUNT_RESTRICTED_ITEM"),
        ("Paying", "444.75"),
        ("true", 1),
        ("0.00", "55.25"),
        ("Completed", True),
        ("sale", "444.75"),
        (409, "ADD_ITEMS_NOT_ALLOWED_IN_COMPLETED"),
    ]  # fmt: skip
