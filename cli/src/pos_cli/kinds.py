"""What each importable kind of record is, for posctl: its columns (the fields of master-data's
bulk row model, in order), their JSON types, and its key (what names one record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from master_data.api.bulk import ROW_MODELS, BulkKind
from master_data.storage.kinds import CATEGORIES, ITEMS, PAYMENT_METHODS, STORE_PRICES, TAX_RULES
from master_data.storage.records import RecordKind

_RECORDS: dict[BulkKind, RecordKind[Any]] = {
    BulkKind.CATEGORIES: CATEGORIES,
    BulkKind.TAX_RULES: TAX_RULES,
    BulkKind.PAYMENT_METHODS: PAYMENT_METHODS,
    BulkKind.ITEMS: ITEMS,
    BulkKind.STORE_PRICES: STORE_PRICES,
}


@dataclass(frozen=True)
class Column:
    name: str
    json_type: str | None
    """"boolean", "integer", "string"...; None when the schema gives several."""
    required: bool
    description: str


@dataclass(frozen=True)
class Kind:
    name: BulkKind
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    examples: tuple[dict[str, Any], ...]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...] | None:
        values = tuple(row.get(name) for name in self.key)
        return None if any(value is None for value in values) else values


def kind(name: BulkKind) -> Kind:
    model = ROW_MODELS[name]
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    columns = tuple(
        Column(
            name=column,
            json_type=spec.get("type"),
            required=column in required,
            description=spec.get("description", ""),
        )
        for column, spec in schema["properties"].items()
    )
    aliases = {field: info.alias or field for field, info in model.model_fields.items()}
    key = tuple(aliases[field] for field in _RECORDS[name].key_fields)
    return Kind(name, columns, key, tuple(schema.get("examples", ())))
