"""The whole POS flow against real master-data and real MongoDB protocol, once per transport.

Every step's status and body are recorded and the two transports must agree on all of them,
errors included (ids and timestamps aside): flipping USE_GRPC changes nothing a terminal sees.
"""

from __future__ import annotations

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.pos_sale import assert_identical_sales, run_sales
from tests.support import Stack, TerminalNumbers


async def test_both_transports_give_identical_carts_and_records(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> None:
    results = await run_sales(carts, stack.tokens.cart_admin, demo, terminal_numbers)
    assert list(results) == list(Transport)
    assert_identical_sales(results, demo)
