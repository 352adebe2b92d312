"""The interface cart uses for master data, and the errors both transports raise alike.

USE_GRPC picks the implementation once, at start-up (factory.py); nothing else changes when it
flips: same objects, same values, same errors (failures.py says which, for both).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from pos_commons.limits import MAX_ITEMS_PER_LOOKUP
from pos_commons.transport import Transport


@functools.lru_cache(maxsize=1024)
def tax_rule(
    tax_code: str,
    name: str,
    tax_type: TaxType,
    rate: Decimal,
    rounding_digits: int,
    rounding_method: RoundingMethod,
) -> TaxRule:
    """A TaxRule from values both transports already parsed and typed.

    A tenant has a handful of tax rules, so the (immutable) instances are shared rather than
    built for every item of every lookup; built without pydantic's validation, which
    master-data did when the rule was written.
    """
    return TaxRule.model_construct(
        tax_code=tax_code,
        name=name,
        tax_type=tax_type,
        rate=rate,
        rounding_digits=rounding_digits,
        rounding_method=rounding_method,
    )


@dataclass(frozen=True)
class ItemLookup:
    found: dict[str, ItemInfo]
    missing: list[str]


async def in_batches(
    codes: Sequence[str], look_up: Callable[[Sequence[str]], Awaitable[ItemLookup]]
) -> ItemLookup:
    """`codes` looked up in as few calls as master-data's batch limit allows."""
    if 0 < len(codes) <= MAX_ITEMS_PER_LOOKUP:
        return await look_up(codes)
    found: dict[str, ItemInfo] = {}
    missing: list[str] = []
    for start in range(0, len(codes), MAX_ITEMS_PER_LOOKUP):
        lookup = await look_up(codes[start : start + MAX_ITEMS_PER_LOOKUP])
        found.update(lookup.found)
        missing.extend(lookup.missing)
    return ItemLookup(found, missing)


class MasterDataRepository(Protocol):
    transport: Transport
    """Shown in Server-Timing, the metrics and /health."""

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        """The items of `codes` (one round trip per MAX_ITEMS_PER_LOOKUP), and those not found."""
        ...

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo: ...

    async def ready(self) -> bool:
        """Whether master-data answers over this transport."""
        ...

    async def close(self) -> None:
        """Closes the channel or clients the repository was built with."""
        ...
