"""cart's copy of the master data it has used: items per (tenant, store) and payment methods,
kept current by master-data's catalog feed (feeds.py) rather than expired by a timer.

A change is applied in place: a new unit price, store price, tax rule or item field rewrites
every entry it is part of (an entry keeps the two prices its effective price comes from), a
deletion drops or rewrites what it touches, and a change whose key is unknown drops every
entry of its kind in the tenant. So once a change is applied, no lookup answers the old
value; and nothing needs master-data to answer a change.

What a lookup brings is put only if no change of the tenant was applied while it was in
flight (the tenant's generation, taken before the call: the answer may predate the change).
Bounded: past `max_entries` items (and as many payment methods), the least recently used go.
Single event loop, no awaits inside: no locking needed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from cart.domain.model import TaxRule
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.feed.changes import (
    CatalogChange,
    ChangeKind,
    ItemRecord,
    StorePriceRecord,
)
from pos_commons.cache import CacheStats

ItemKey = tuple[str, str, str]
"""(tenant, store, item code)"""
PaymentKey = tuple[str, str]
"""(tenant, payment code)"""


def _size(value: object) -> int:
    """Bytes of an entry: the object and its attributes one level down (the strings and
    decimals an entry is made of; shared tax rules counted once each, roughly)."""
    total = sys.getsizeof(value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        total += sum(sys.getsizeof(getattr(value, name)) for name in fields)
    return total


class ItemCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.stats = CacheStats()
        """`stale_puts`: lookup answers not kept, a change of the tenant was applied while they
        were in flight; no invalidations (a tenant's start over drops its entries)."""
        self._items: OrderedDict[ItemKey, ItemInfo] = OrderedDict()
        self._payments: OrderedDict[PaymentKey, PaymentMethodInfo] = OrderedDict()
        self._stores_of: dict[tuple[str, str], set[str]] = {}
        """(tenant, item code) -> the stores it is kept for, to apply an item's change."""
        self._rules: dict[str, dict[str, TaxRule]] = {}
        """Tax rules seen per tenant, for an item whose tax code changes."""
        self._generations: dict[str, int] = {}
        self._bytes = 0

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    @property
    def payment_methods(self) -> int:
        return len(self._payments)

    @property
    def bytes(self) -> int:
        """Approximate memory held by the entries."""
        return self._bytes

    def generation(self, tenant_id: str) -> int:
        """Take this before asking master-data; hand it to `put_*` with the answer."""
        return self._generations.get(tenant_id, 0)

    def items(
        self, tenant_id: str, store_code: str, codes: Sequence[str]
    ) -> tuple[dict[str, ItemInfo], list[str]]:
        """The entries of `codes` kept, and the codes not kept."""
        found: dict[str, ItemInfo] = {}
        wanted: list[str] = []
        entries = self._items
        for code in codes:
            key = (tenant_id, store_code, code)
            info = entries.get(key)
            if info is None:
                wanted.append(code)
            else:
                entries.move_to_end(key)
                found[code] = info
        self.stats.hits += len(found)
        self.stats.misses += len(wanted)
        return found, wanted

    def payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo | None:
        key = (tenant_id, payment_code)
        method = self._payments.get(key)
        if method is None:
            self.stats.misses += 1
            return None
        self._payments.move_to_end(key)
        self.stats.hits += 1
        return method

    # -- what lookups brought -----------------------------------------------------------------

    def put_items(
        self, tenant_id: str, store_code: str, items: Iterable[ItemInfo], generation: int
    ) -> None:
        if generation != self.generation(tenant_id):
            self.stats.stale_puts += 1
            return
        rules = self._rules.setdefault(tenant_id, {})
        for info in items:
            rules[info.tax_rule.tax_code] = info.tax_rule
            self._set_item((tenant_id, store_code, info.item_code), info)
        self._bound(self._items, self._drop_item)

    def put_payment_method(
        self, tenant_id: str, method: PaymentMethodInfo, generation: int
    ) -> None:
        if generation != self.generation(tenant_id):
            self.stats.stale_puts += 1
            return
        self._set_payment((tenant_id, method.payment_code), method)
        self._bound(self._payments, self._drop_payment)

    # -- what the feed says -------------------------------------------------------------------

    def apply(self, tenant_id: str, change: CatalogChange) -> None:
        """One change of the tenant's catalog, in the feed's order."""
        self._generations[tenant_id] = self.generation(tenant_id) + 1
        _APPLY[change.kind](self, tenant_id, change)

    def drop_tenant(self, tenant_id: str) -> None:
        """Everything kept of the tenant (the feed said: start over)."""
        self._generations[tenant_id] = self.generation(tenant_id) + 1
        self._drop_items_where(tenant_id, lambda key, info: True)
        for key in [key for key in self._payments if key[0] == tenant_id]:
            self._drop_payment(key)
        self._rules.pop(tenant_id, None)

    def _apply_item(self, tenant_id: str, change: CatalogChange) -> None:
        code = change.key.get("item_code")
        if code is None:
            self._drop_items_where(tenant_id, lambda key, info: True)
            return
        stores = list(self._stores_of.get((tenant_id, code), ()))
        record = change.value
        if not isinstance(record, ItemRecord):
            for store in stores:
                self._drop_item((tenant_id, store, code))
            return
        for store in stores:
            key = (tenant_id, store, code)
            old = self._items[key]
            rule = self._rule(tenant_id, record.tax_code, old.tax_rule)
            if rule is None:
                self._drop_item(key)  # a tax code this process has not seen: ask again
                continue
            self._set_item(
                key,
                dataclasses.replace(
                    old,
                    description=record.description,
                    short_description=record.short_description,
                    category_code=record.category_code,
                    unit_price=record.unit_price,
                    effective_price=_effective(record.unit_price, old.store_price),
                    is_discount_restricted=record.is_discount_restricted,
                    is_deleted=record.is_deleted,
                    tax_rule=rule,
                ),
            )

    def _apply_store_price(self, tenant_id: str, change: CatalogChange) -> None:
        store, code = change.key.get("store_code"), change.key.get("item_code")
        if store is None or code is None:
            self._drop_items_where(tenant_id, lambda key, info: info.store_price is not None)
            return
        key = (tenant_id, store, code)
        old = self._items.get(key)
        if old is None:
            return
        price = change.value.price if isinstance(change.value, StorePriceRecord) else None
        self._set_item(
            key,
            dataclasses.replace(
                old, store_price=price, effective_price=_effective(old.unit_price, price)
            ),
        )

    def _apply_tax_rule(self, tenant_id: str, change: CatalogChange) -> None:
        code = change.key.get("tax_code")
        rules = self._rules.setdefault(tenant_id, {})
        rule = change.value if isinstance(change.value, TaxRule) else None
        if code is None or rule is None:
            if code is None:
                rules.clear()
            else:
                rules.pop(code, None)
            self._drop_items_where(
                tenant_id, lambda key, info: code is None or info.tax_rule.tax_code == code
            )
            return
        rules[code] = rule
        for key, info in self._entries_of(tenant_id):
            if info.tax_rule.tax_code == code:
                self._set_item(key, dataclasses.replace(info, tax_rule=rule))

    def _apply_payment_method(self, tenant_id: str, change: CatalogChange) -> None:
        code = change.key.get("payment_code")
        method = change.value if isinstance(change.value, PaymentMethodInfo) else None
        if code is None:
            for key in [key for key in self._payments if key[0] == tenant_id]:
                self._drop_payment(key)
            return
        key = (tenant_id, code)
        if key not in self._payments:
            return
        if method is None:
            self._drop_payment(key)
        else:
            self._set_payment(key, method)

    def _apply_store(self, tenant_id: str, change: CatalogChange) -> None:
        if change.value is not None:
            return  # a store's own fields are not part of what cart keeps
        store = change.key.get("store_code")
        self._drop_items_where(tenant_id, lambda key, info: store is None or key[1] == store)

    # -- bookkeeping --------------------------------------------------------------------------

    def _rule(self, tenant_id: str, tax_code: str, current: TaxRule) -> TaxRule | None:
        if current.tax_code == tax_code:
            return current
        return self._rules.get(tenant_id, {}).get(tax_code)

    def _entries_of(self, tenant_id: str) -> list[tuple[ItemKey, ItemInfo]]:
        return [(key, info) for key, info in self._items.items() if key[0] == tenant_id]

    def _drop_items_where(
        self, tenant_id: str, condition: Callable[[ItemKey, ItemInfo], bool]
    ) -> None:
        for key, info in self._entries_of(tenant_id):
            if condition(key, info):
                self._drop_item(key)

    def _put(self, entries: OrderedDict[Any, Any], key: Any, value: object) -> None:
        """`value` kept under `key`, the newest of `entries`; the bytes counted."""
        old = entries.get(key)
        if old is not None:
            self._bytes -= _size(old)
        entries[key] = value
        entries.move_to_end(key)
        self._bytes += _size(value)

    def _pop(self, entries: OrderedDict[Any, Any], key: Any) -> Any:
        """What `entries` kept under `key`, no longer kept (None if nothing was)."""
        value = entries.pop(key, None)
        if value is not None:
            self._bytes -= _size(value)
        return value

    def _set_item(self, key: ItemKey, info: ItemInfo) -> None:
        self._put(self._items, key, info)
        self._stores_of.setdefault((key[0], key[2]), set()).add(key[1])

    def _drop_item(self, key: ItemKey) -> None:
        if self._pop(self._items, key) is None:
            return
        stores = self._stores_of.get((key[0], key[2]))
        if stores is not None:
            stores.discard(key[1])
            if not stores:
                del self._stores_of[(key[0], key[2])]

    def _set_payment(self, key: PaymentKey, method: PaymentMethodInfo) -> None:
        self._put(self._payments, key, method)

    def _drop_payment(self, key: PaymentKey) -> None:
        self._pop(self._payments, key)

    def _bound(self, entries: OrderedDict[Any, Any], drop: Callable[[Any], None]) -> None:
        while len(entries) > self.max_entries:
            drop(next(iter(entries)))
            self.stats.evictions += 1


def _effective(unit_price: Decimal, store_price: Decimal | None) -> Decimal:
    return unit_price if store_price is None else store_price


_APPLY: Mapping[ChangeKind, Callable[[ItemCache, str, CatalogChange], None]] = {
    ChangeKind.ITEM: ItemCache._apply_item,
    ChangeKind.STORE_PRICE: ItemCache._apply_store_price,
    ChangeKind.TAX_RULE: ItemCache._apply_tax_rule,
    ChangeKind.PAYMENT_METHOD: ItemCache._apply_payment_method,
    ChangeKind.STORE: ItemCache._apply_store,
}
