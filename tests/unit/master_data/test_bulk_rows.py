"""A bulk import stores a new row's validated fields as they are (no second validation by the
record's model): each kind's row model must therefore hold every field of its record, with
the same defaults, but the timestamps (and an item's soft-delete flag, which an import sets)."""

from __future__ import annotations

import pytest

from master_data.api.bulk import ROW_MODELS, BulkKind
from master_data.domain import Category, Item, PaymentMethod, Record, StorePrice, TaxRule

RECORDS: dict[BulkKind, type[Record]] = {
    BulkKind.CATEGORIES: Category,
    BulkKind.TAX_RULES: TaxRule,
    BulkKind.PAYMENT_METHODS: PaymentMethod,
    BulkKind.ITEMS: Item,
    BulkKind.STORE_PRICES: StorePrice,
}
SET_BY_THE_IMPORT = {"created_at", "updated_at", "is_deleted"}


@pytest.mark.parametrize("kind", list(BulkKind))
def test_a_row_holds_every_field_of_its_record_with_the_same_defaults(kind: BulkKind) -> None:
    row, record = ROW_MODELS[kind].model_fields, RECORDS[kind].model_fields
    assert set(record) - SET_BY_THE_IMPORT == set(row)
    for name, field in row.items():
        if not record[name].is_required():  # else the row always gives it a value
            assert field.default == record[name].default, name
