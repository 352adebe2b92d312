"""cart's item cache (cart/masterdata/feed/item_cache.py) in isolation: what each kind of catalog
change does to the entries it touches, and what it must leave alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from cart.domain.model import TaxRule, TaxType
from cart.domain.operations import ItemInfo
from cart.masterdata.feed.changes import (
    CatalogChange,
    ChangeKind,
    ChangeValue,
    ItemRecord,
    StorePriceRecord,
    StoreRecord,
)
from cart.masterdata.feed.item_cache import ItemCache
from tests.unit.cart.catalog import item, payment_method, tax_rule

T, S1, S2 = "t1", "S001", "S002"
D7, D12 = Decimal(7), Decimal(12)
STD = tax_rule("STD", TaxType.EXTERNAL, 10, name="Standard")
RED = STD.model_copy(update={"tax_code": "RED", "rate": Decimal(8)})
CASH = payment_method("CASH", "Cash", change=True, exceed=True)


def info(code: str, unit: str = "10.00", store: str | None = None, rule: TaxRule = STD) -> ItemInfo:
    """The item as the cache builds it from `record(code, unit)` (and the store's price)."""
    return item(code, unit, store_price=store, tax_rule=rule)


def record(code: str, unit: str = "10.00", **changes: object) -> ItemRecord:
    base = ItemRecord(
        item_code=code, description=f"Item {code}", short_description=code, category_code="C",
        tax_code="STD", unit_price=Decimal(unit), is_discount_restricted=False, is_deleted=False,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def change(kind: ChangeKind, key: dict[str, str], value: ChangeValue | None) -> CatalogChange:
    return CatalogChange(kind, key, value, datetime.now(UTC), "00")


def warmed(*entries: tuple[str, ItemInfo]) -> ItemCache:
    cache = ItemCache(100)
    for store, entry in entries:
        cache.put_items(T, store, [entry], cache.generation(T))
    cache.put_payment_method(T, CASH, cache.generation(T))
    return cache


def kept(cache: ItemCache, store: str, code: str) -> ItemInfo | None:
    return cache.items(T, store, [code])[0].get(code)


def test_an_item_change_rewrites_the_item_in_every_store_keeping_each_store_price() -> None:
    cache = warmed((S1, info("A")), (S2, info("A", store="7.00")))
    renamed = record("A", "12.00", description="New")
    cache.apply(T, change(ChangeKind.ITEM, {"item_code": "A"}, renamed))
    one, two = kept(cache, S1, "A"), kept(cache, S2, "A")
    assert one is not None
    assert two is not None
    assert (one.effective_price, one.unit_price, one.description) == (D12, D12, "New")
    assert (two.effective_price, two.unit_price, two.store_price) == (D7, D12, D7)


def test_a_soft_deleted_item_is_kept_flagged_so_it_is_refused() -> None:
    cache = warmed((S1, info("A")))
    cache.apply(T, change(ChangeKind.ITEM, {"item_code": "A"}, record("A", is_deleted=True)))
    entry = kept(cache, S1, "A")
    assert entry is not None
    assert entry.is_deleted


def test_an_item_that_moves_to_an_unseen_tax_code_is_dropped() -> None:
    cache = warmed((S1, info("A")))
    cache.apply(T, change(ChangeKind.ITEM, {"item_code": "A"}, record("A", tax_code="NEW")))
    assert kept(cache, S1, "A") is None


def test_an_item_that_moves_to_a_seen_tax_code_takes_that_rule() -> None:
    cache = warmed((S1, info("A")), (S1, info("B", rule=RED)))
    cache.apply(T, change(ChangeKind.ITEM, {"item_code": "A"}, record("A", tax_code="RED")))
    entry = kept(cache, S1, "A")
    assert entry is not None
    assert entry.tax_rule == RED


def test_a_purged_item_goes_from_every_store() -> None:
    cache = warmed((S1, info("A")), (S2, info("A")), (S1, info("B")))
    cache.apply(T, change(ChangeKind.ITEM, {"item_code": "A"}, None))
    assert kept(cache, S1, "A") is None
    assert kept(cache, S2, "A") is None
    assert kept(cache, S1, "B") is not None


def test_a_store_price_sets_and_its_removal_restores_the_unit_price_in_that_store_only() -> None:
    cache = warmed((S1, info("A")), (S2, info("A")))
    key = {"store_code": S1, "item_code": "A"}
    cache.apply(T, change(ChangeKind.STORE_PRICE, key, StorePriceRecord(S1, "A", Decimal(0))))
    entry = kept(cache, S1, "A")
    assert entry is not None
    assert entry.effective_price == 0
    assert entry.store_price == 0
    other = kept(cache, S2, "A")
    assert other is not None
    assert other.effective_price == 10
    cache.apply(T, change(ChangeKind.STORE_PRICE, key, None))
    entry = kept(cache, S1, "A")
    assert entry is not None
    assert entry.effective_price == 10
    assert entry.store_price is None


def test_a_tax_rule_change_reaches_every_item_under_it() -> None:
    cache = warmed((S1, info("A")), (S2, info("B")), (S1, info("C", rule=RED)))
    new_rule = STD.model_copy(update={"rate": Decimal(12)})
    cache.apply(T, change(ChangeKind.TAX_RULE, {"tax_code": "STD"}, new_rule))
    for store, code in ((S1, "A"), (S2, "B")):
        entry = kept(cache, store, code)
        assert entry is not None
        assert entry.tax_rule.rate == 12
    other = kept(cache, S1, "C")
    assert other is not None
    assert other.tax_rule == RED


def test_payment_methods_follow_their_changes() -> None:
    cache = warmed()
    closed = dataclasses.replace(CASH, is_active=False)
    cache.apply(T, change(ChangeKind.PAYMENT_METHOD, {"payment_code": "CASH"}, closed))
    assert cache.payment_method(T, "CASH") == closed
    cache.apply(T, change(ChangeKind.PAYMENT_METHOD, {"payment_code": "CASH"}, None))
    assert cache.payment_method(T, "CASH") is None


def test_a_deleted_store_takes_its_items_with_it() -> None:
    cache = warmed((S1, info("A")), (S2, info("A")))
    cache.apply(T, change(ChangeKind.STORE, {"store_code": S1}, StoreRecord(S1)))
    assert kept(cache, S1, "A") is not None  # a store's own change is nothing to cart
    cache.apply(T, change(ChangeKind.STORE, {"store_code": S1}, None))
    assert kept(cache, S1, "A") is None
    assert kept(cache, S2, "A") is not None


def test_a_delete_without_its_key_drops_every_record_of_its_kind() -> None:
    cache = warmed((S1, info("A", store="5.00")), (S1, info("B")))
    cache.apply(T, change(ChangeKind.STORE_PRICE, {}, None))
    assert kept(cache, S1, "A") is None
    assert kept(cache, S1, "B") is not None
    cache.apply(T, change(ChangeKind.ITEM, {}, None))
    assert kept(cache, S1, "B") is None
    cache.apply(T, change(ChangeKind.PAYMENT_METHOD, {}, None))
    assert cache.payment_method(T, "CASH") is None


def test_changes_stay_in_their_tenant_and_start_over_drops_only_its_own() -> None:
    cache = warmed((S1, info("A")))
    cache.put_items("t2", S1, [info("A")], cache.generation("t2"))
    cache.apply("t2", change(ChangeKind.ITEM, {"item_code": "A"}, None))
    assert kept(cache, S1, "A") is not None
    cache.put_items("t2", S1, [info("A")], cache.generation("t2"))
    cache.drop_tenant(T)
    assert kept(cache, S1, "A") is None
    assert cache.payment_method(T, "CASH") is None
    assert cache.items("t2", S1, ["A"])[0]


def test_an_answer_read_before_a_change_is_not_kept() -> None:
    cache = ItemCache(10)
    generation = cache.generation(T)
    cache.apply(T, change(ChangeKind.STORE_PRICE, {"store_code": S1, "item_code": "A"}, None))
    cache.put_items(T, S1, [info("A")], generation)
    cache.put_payment_method(T, CASH, generation)
    assert kept(cache, S1, "A") is None
    assert cache.payment_method(T, "CASH") is None
    assert cache.stats.stale_puts == 2


def test_bounded_least_recently_used_first_with_bytes_accounted() -> None:
    cache = ItemCache(2)
    for code in "ABC":
        cache.put_items(T, S1, [info(code)], cache.generation(T))
        if code == "B":
            assert kept(cache, S1, "A") is not None  # A used: B is the oldest now
    assert len(cache) == 2
    assert cache.stats.evictions == 1
    assert kept(cache, S1, "B") is None
    assert kept(cache, S1, "A") is not None
    assert cache.bytes > 0
    cache.drop_tenant(T)
    assert len(cache) == 0
    assert cache.bytes == 0
