"""The interface cart uses for master data, and the errors both transports raise alike.

USE_GRPC picks the implementation once, at start-up (factory.py); nothing else changes when it
flips: same objects, same values, same errors (failures.py says which, for both).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.feed.changes import FeedMessage
from pos_commons.limits import MAX_ITEMS_PER_LOOKUP
from pos_commons.transport import Transport

T = TypeVar("T")


def tax_rule(
    tax_code: str,
    name: str,
    tax_type: TaxType,
    rate: Decimal,
    rounding_digits: int,
    rounding_method: RoundingMethod,
) -> TaxRule:
    """A TaxRule from values both transports already parsed and typed; built without
    pydantic's validation, which master-data did when the rule was written."""
    return TaxRule.model_construct(
        tax_code=tax_code,
        name=name,
        tax_type=tax_type,
        rate=rate,
        rounding_digits=rounding_digits,
        rounding_method=rounding_method,
    )


class TaxRuleMemo:
    """The TaxRule of each distinct rule a transport delivered, by its values as they came.

    A tenant has a handful of tax rules, so the (immutable) instances are shared rather than
    parsed and built for every item of every lookup: a hit costs a tuple and a dict lookup,
    where parsing the rate and both enums and building the model cost more (docs/performance.md).
    Bounded: past `limit` distinct rules it starts over.
    """

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._rules: dict[tuple[object, ...], TaxRule] = {}

    def get(self, raw: tuple[object, ...], parse: Callable[[], TaxRule]) -> TaxRule:
        """The rule whose fields came as `raw` (every one, in the transport's own types);
        on its first sight, `parse()` builds it (raising as the transport's parsing does)."""
        rule = self._rules.get(raw)
        if rule is None:
            rule = parse()
            if len(self._rules) >= self._limit:
                self._rules.clear()
            self._rules[raw] = rule
        return rule


@dataclass(frozen=True)
class ItemLookup:
    found: dict[str, ItemInfo]
    missing: list[str]


def in_batches(
    codes: Sequence[str], look_up: Callable[[Sequence[str]], Awaitable[ItemLookup]]
) -> Awaitable[ItemLookup]:
    """`codes` looked up in as few calls as master-data's batch limit allows (the usual single
    batch is `look_up`'s own call, with no coroutine around it)."""
    if 0 < len(codes) <= MAX_ITEMS_PER_LOOKUP:
        return look_up(codes)
    return _each_batch(codes, look_up)


async def _each_batch(
    codes: Sequence[str], look_up: Callable[[Sequence[str]], Awaitable[ItemLookup]]
) -> ItemLookup:
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

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        """The items of `codes` (one round trip per MAX_ITEMS_PER_LOOKUP), and those not found.
        `fresh`: master-data answers from its database, not its cache."""
        ...

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo: ...

    def watch_catalog(self, tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        """The tenant's catalog feed from now, or after `token`, until it breaks (raising the
        failure, a MasterDataError, which the follower logs once per outage)
        or master-data ends it. Close it (aclosing) when done."""
        ...

    async def ready(self) -> bool:
        """Whether master-data answers over this transport."""
        ...

    async def close(self) -> None:
        """Closes the channel or clients the repository was built with."""
        ...


class ForwardingRepository:
    """A repository in front of another (the item cache, the measurements, the spans): every
    call goes on to `inner`, each lookup through `around`, which such a layer overrides. What
    the interface grows is forwarded here once."""

    def __init__(self, inner: MasterDataRepository) -> None:
        self._inner = inner
        self.transport = inner.transport

    async def around(self, operation: str, tenant_id: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, the lookup `operation` of `tenant_id` made by `inner`."""
        return await call()

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        return await self.around(
            "get_items",
            tenant_id,
            lambda: self._inner.get_items(tenant_id, store_code, codes, fresh=fresh),
        )

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        return await self.around(
            "get_payment_method",
            tenant_id,
            lambda: self._inner.get_payment_method(tenant_id, payment_code, fresh=fresh),
        )

    def watch_catalog(self, tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        return self._inner.watch_catalog(tenant_id, token)

    async def ready(self) -> bool:
        return await self._inner.ready()

    async def close(self) -> None:
        await self._inner.close()
