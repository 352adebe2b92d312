"""The interface cart uses for master data, and the errors both transports raise alike.

The flag USE_GRPC picks the implementation once, at start-up; nothing else changes when it
flips: same objects, same values, same errors (failures.py says which, for both).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo


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


class MasterDataRepository(Protocol):
    transport: str
    """"http" or "grpc": shown in Server-Timing and the metrics."""

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        """The items of `codes` (one round trip for up to 100), and the codes not found."""
        ...

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo: ...

    async def ready(self) -> bool:
        """Whether master-data answers over this transport."""
        ...

    async def close(self) -> None: ...
