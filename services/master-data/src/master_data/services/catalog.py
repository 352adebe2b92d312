"""The catalog's write and read rules: referential checks, soft delete, cache invalidation.

Every record type gets the same create/get/page/update/delete behaviour from RecordService;
the subclasses add only what is particular to them (an item needs an existing category and
tax rule, a tax rule in use cannot be deleted, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from master_data.domain import (
    Category,
    Item,
    PaymentMethod,
    Record,
    Store,
    StorePrice,
    TaxRule,
    now_ms,
)
from master_data.services.tenants import TenantService
from master_data.storage.kinds import (
    CATEGORIES,
    ITEMS,
    PAYMENT_METHODS,
    STORE_PRICES,
    STORES,
    TAX_RULES,
)
from master_data.storage.records import KeyTuple, RecordStore
from pos_commons.cache import TtlCache
from pos_commons.errors import AppError, ConflictError, UnprocessableError
from pos_commons.mongo import Mongo

R = TypeVar("R", bound=Record)

Invalidate = Callable[[str], None]
Key = Mapping[str, Any]


Outcome = Literal["created", "updated", "unchanged", "rejected"]


@dataclass(frozen=True)
class RowOutcome:
    """What a bulk upsert did with one row (or would do, in a dry run)."""

    outcome: Outcome
    error: AppError | None = None


class RecordService(Generic[R]):
    def __init__(
        self, records: RecordStore[R], tenants: TenantService, invalidate: Invalidate
    ) -> None:
        self.records = records
        self._tenants = tenants
        self._invalidate = invalidate

    async def check_many(
        self, tenant_id: str, rows: Sequence[Mapping[str, Any]]
    ) -> list[AppError | None]:
        """Business checks on the fields each create, update or bulk row sets: the refusal of
        each row, None for a row that passes. One place for each rule, whatever the path."""
        return [None] * len(rows)

    async def check(self, tenant_id: str, fields: Mapping[str, Any]) -> None:
        refusal = (await self.check_many(tenant_id, [fields]))[0]
        if refusal is not None:
            raise refusal

    def upserted(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """What a bulk row sets: its fields (an item also comes back from a soft delete)."""
        return dict(fields)

    async def upsert_many(
        self, tenant_id: str, rows: Sequence[Mapping[str, Any]], *, dry_run: bool = False
    ) -> list[RowOutcome]:
        """Creates the rows whose key is new and updates those that differ from the stored
        record, in one read and at most two writes; the same rows again change nothing.
        `rows` hold validated fields (python-mode values); each row's refusal is its own.
        With `dry_run`, decides every row's outcome and writes nothing."""
        await self._tenants.require(tenant_id)
        outcomes: list[RowOutcome | None] = [None] * len(rows)
        positions: dict[KeyTuple, int] = {}
        for position, refusal in enumerate(await self.check_many(tenant_id, rows)):
            key = self.records.key_of(rows[position])
            if refusal is None and key in positions:
                refusal = UnprocessableError(
                    f"The {self.records.kind.label} {self.records.kind.describe(rows[position])!r}"
                    " is in this batch twice.",
                    code="DUPLICATE_ROW",
                )
            if refusal is not None:
                outcomes[position] = RowOutcome("rejected", refusal)
            else:
                positions[key] = position
        stored = await self.records.existing(tenant_id, [rows[p] for p in positions.values()])
        now = now_ms()
        created: list[int] = []
        new: list[dict[str, Any]] = []
        changes: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        for key, position in positions.items():
            fields = self.upserted(rows[position])
            current = stored.get(key)
            if current is None:
                # Validated already (a row model holds every field of its record but the
                # timestamps: tests/unit/master_data/test_bulk_rows.py): stored as it is.
                created.append(position)
                new.append({**fields, "created_at": now, "updated_at": now})
                continue
            changed = {name: value for name, value in fields.items() if current.get(name) != value}
            outcomes[position] = RowOutcome("updated" if changed else "unchanged")
            if changed:
                changes.append((rows[position], changed))
        for position in created:
            outcomes[position] = RowOutcome("created")
        if not dry_run and (new or changes):
            taken = await self.records.insert_many(tenant_id, new)
            for index in taken:  # created by another writer meanwhile: refused, not lost
                position = created[index]
                taken_by = self.records.already_exists(rows[position])
                outcomes[position] = RowOutcome("rejected", taken_by)
            await self.records.update_each(tenant_id, changes)
            self._invalidate(tenant_id)
        return [outcome or RowOutcome("rejected") for outcome in outcomes]

    async def before_delete(self, tenant_id: str, key: Key) -> None:
        """Refuses or cascades a delete."""

    async def create(self, tenant_id: str, fields: Mapping[str, Any]) -> R:
        await self._tenants.require(tenant_id)
        await self.check(tenant_id, fields)
        now = now_ms()
        record = self.records.kind.model.model_validate(
            {**fields, "created_at": now, "updated_at": now}
        )
        created = await self.records.insert(tenant_id, record)
        self._invalidate(tenant_id)
        return created

    async def get(self, tenant_id: str, key: Key, *, fresh: bool = False) -> R:
        """The record (read from the database; `fresh` matters to a type that caches)."""
        await self._tenants.require(tenant_id)
        return await self.records.get(tenant_id, key)

    async def page(
        self, tenant_id: str, where: Mapping[str, Any], page: int, limit: int
    ) -> tuple[list[R], int]:
        await self._tenants.require(tenant_id)
        return await self.records.page(tenant_id, where, page, limit)

    async def update(self, tenant_id: str, key: Key, changes: Mapping[str, Any]) -> R:
        await self._tenants.require(tenant_id)
        await self.records.get(tenant_id, key)
        await self.check(tenant_id, changes)
        updated = await self.records.update(tenant_id, key, changes)
        self._invalidate(tenant_id)
        return updated

    async def delete(self, tenant_id: str, key: Key) -> None:
        await self._tenants.require(tenant_id)
        await self.records.get(tenant_id, key)
        await self.before_delete(tenant_id, key)
        await self.records.delete(tenant_id, key)
        self._invalidate(tenant_id)


class StoreService(RecordService[Store]):
    def __init__(
        self,
        records: RecordStore[Store],
        prices: RecordStore[StorePrice],
        tenants: TenantService,
        invalidate: Invalidate,
    ) -> None:
        super().__init__(records, tenants, invalidate)
        self._prices = prices

    async def before_delete(self, tenant_id: str, key: Key) -> None:
        await self._prices.delete_where(tenant_id, {"store_code": key["store_code"]})


class ReferencedByItems(RecordService[R]):
    """A record items point to (category, tax rule): deleting it while in use is refused."""

    def __init__(
        self,
        records: RecordStore[R],
        items: RecordStore[Item],
        tenants: TenantService,
        invalidate: Invalidate,
        in_use_code: str,
    ) -> None:
        super().__init__(records, tenants, invalidate)
        self._items = items
        self._in_use_code = in_use_code

    async def before_delete(self, tenant_id: str, key: Key) -> None:
        if await self._items.exists(tenant_id, dict(key)):
            kind = self.records.kind
            raise ConflictError(
                f"The {kind.label} {kind.describe(key)!r} is used by items; change them first.",
                code=self._in_use_code,
            )


class ItemService(RecordService[Item]):
    def __init__(
        self,
        records: RecordStore[Item],
        categories: RecordStore[Category],
        tax_rules: RecordStore[TaxRule],
        prices: RecordStore[StorePrice],
        tenants: TenantService,
        invalidate: Invalidate,
    ) -> None:
        super().__init__(records, tenants, invalidate)
        self._categories = categories
        self._tax_rules = tax_rules
        self._prices = prices

    async def check_many(
        self, tenant_id: str, rows: Sequence[Mapping[str, Any]]
    ) -> list[AppError | None]:
        categories = await _known(self._categories, tenant_id, rows, "category_code")
        tax_codes = await _known(self._tax_rules, tenant_id, rows, "tax_code")
        refusals: list[AppError | None] = []
        for fields in rows:
            category, tax_code = fields.get("category_code"), fields.get("tax_code")
            if category is not None and category not in categories:
                refusals.append(
                    UnprocessableError(f"Unknown category {category!r}.", code="UNKNOWN_CATEGORY")
                )
            elif tax_code is not None and tax_code not in tax_codes:
                refusals.append(
                    UnprocessableError(f"Unknown tax code {tax_code!r}.", code="UNKNOWN_TAX_CODE")
                )
            else:
                refusals.append(None)
        return refusals

    def upserted(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {**fields, "is_deleted": False}

    async def soft_delete(self, tenant_id: str, key: Key) -> Item:
        """Marks the item deleted: it stays readable, flagged, and cart refuses to sell it."""
        await self._tenants.require(tenant_id)
        item = await self.records.update(tenant_id, key, {"is_deleted": True})
        self._invalidate(tenant_id)
        return item

    async def before_delete(self, tenant_id: str, key: Key) -> None:
        await self._prices.delete_where(tenant_id, {"item_code": key["item_code"]})


class StorePriceService(RecordService[StorePrice]):
    def __init__(
        self,
        records: RecordStore[StorePrice],
        stores: RecordStore[Store],
        items: RecordStore[Item],
        tenants: TenantService,
        invalidate: Invalidate,
    ) -> None:
        super().__init__(records, tenants, invalidate)
        self._stores = stores
        self._items = items

    async def check_many(
        self, tenant_id: str, rows: Sequence[Mapping[str, Any]]
    ) -> list[AppError | None]:
        stores = await _known(self._stores, tenant_id, rows, "store_code")
        items = await _known(self._items, tenant_id, rows, "item_code")
        refusals: list[AppError | None] = []
        for fields in rows:
            store, item = fields.get("store_code"), fields.get("item_code")
            if store is not None and store not in stores:
                refusals.append(self._stores.not_found({"store_code": store}))
            elif item is not None and item not in items:
                refusals.append(self._items.not_found({"item_code": item}))
            else:
                refusals.append(None)
        return refusals

    async def for_store(
        self, tenant_id: str, store_code: str, page: int, limit: int
    ) -> tuple[list[StorePrice], int]:
        await self._tenants.require(tenant_id)
        await self._stores.get(tenant_id, {"store_code": store_code})
        return await self.records.page(tenant_id, {"store_code": store_code}, page, limit)


class PaymentMethodService(RecordService[PaymentMethod]):
    """Payment methods are read at every payment cart takes: reads go through the reference
    cache, which any write of this process in the tenant clears (like item details)."""

    def __init__(
        self,
        records: RecordStore[PaymentMethod],
        tenants: TenantService,
        invalidate: Invalidate,
        cache: TtlCache[str, object],
    ) -> None:
        super().__init__(records, tenants, invalidate)
        self._cache = cache

    async def get(self, tenant_id: str, key: Key, *, fresh: bool = False) -> PaymentMethod:
        """`fresh` reads the database, not the cache (see ItemDetailService.get)."""
        cache_key = f"payment:{key['payment_code']}"
        cached = None if fresh else self._cache.get(tenant_id, cache_key)
        if isinstance(cached, PaymentMethod):
            return cached
        generation = self._cache.generation(tenant_id)
        method = await super().get(tenant_id, key, fresh=True)
        self._cache.put(tenant_id, cache_key, method, generation)
        return method


async def _known(
    records: RecordStore[Any], tenant_id: str, rows: Sequence[Mapping[str, Any]], field: str
) -> set[Any]:
    """Which of the `field` values the rows name are keys of `records` (a single-key kind)."""
    values = sorted({fields[field] for fields in rows if fields.get(field) is not None})
    if not values:
        return set()
    found = await records.existing(tenant_id, [{field: value} for value in values])
    return {key[0] for key in found}


class Catalog:
    """All record services of master-data, wired to one store per kind."""

    def __init__(
        self,
        mongo: Mongo,
        tenants: TenantService,
        invalidate: Invalidate,
        reference_cache: TtlCache[str, object],
    ) -> None:
        stores = RecordStore(mongo, STORES)
        categories = RecordStore(mongo, CATEGORIES)
        tax_rules = RecordStore(mongo, TAX_RULES)
        payment_methods = RecordStore(mongo, PAYMENT_METHODS)
        items = RecordStore(mongo, ITEMS)
        prices = RecordStore(mongo, STORE_PRICES)
        self.stores = StoreService(stores, prices, tenants, invalidate)
        self.categories = ReferencedByItems(
            categories, items, tenants, invalidate, "CATEGORY_IN_USE"
        )
        self.tax_rules = ReferencedByItems(tax_rules, items, tenants, invalidate, "TAX_RULE_IN_USE")
        self.payment_methods = PaymentMethodService(
            payment_methods, tenants, invalidate, reference_cache
        )
        self.items = ItemService(items, categories, tax_rules, prices, tenants, invalidate)
        self.store_prices = StorePriceService(prices, stores, items, tenants, invalidate)
