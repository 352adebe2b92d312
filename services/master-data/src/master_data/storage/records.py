"""One generic store for every master-data record type, keyed by its business code(s)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from master_data.domain import Record, now_ms
from pos_commons.errors import ConflictError, NotFoundError
from pos_commons.mongo import Document, IndexSpec, Mongo

R = TypeVar("R", bound=Record)

_NO_ID = {"_id": False}


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """What a collection holds and how its errors read."""

    collection: str
    model: type[R]
    key_fields: tuple[str, ...]
    label: str
    not_found_code: str
    exists_code: str
    extra_indexes: tuple[IndexSpec, ...] = ()

    def indexes(self) -> list[IndexSpec]:
        unique = IndexSpec(
            self.collection, [(field, ASCENDING) for field in self.key_fields], unique=True
        )
        return [unique, *self.extra_indexes]

    def describe(self, key: Mapping[str, Any]) -> str:
        return "/".join(str(key[field]) for field in self.key_fields)


class RecordStore(Generic[R]):
    def __init__(self, mongo: Mongo, kind: RecordKind[R]) -> None:
        self._mongo = mongo
        self.kind = kind

    def _collection(self, tenant_id: str) -> Any:
        return self._mongo.tenant_db(tenant_id)[self.kind.collection]

    def _key(self, key: Mapping[str, Any]) -> Document:
        return {field: key[field] for field in self.kind.key_fields}

    def _model(self, document: Document) -> R:
        return self.kind.model.model_validate(document)

    def not_found(self, key: Mapping[str, Any]) -> NotFoundError:
        return NotFoundError(
            f"No {self.kind.label} {self.kind.describe(key)!r}.",
            code=self.kind.not_found_code,
            details=dict(self._key(key)),
        )

    async def insert(self, tenant_id: str, record: R) -> R:
        document = record.model_dump(mode="python", by_alias=False)
        try:
            await self._collection(tenant_id).insert_one(document)
        except DuplicateKeyError as exc:
            key = self._key(document)
            raise ConflictError(
                f"A {self.kind.label} {self.kind.describe(key)!r} already exists.",
                code=self.kind.exists_code,
                details=key,
            ) from exc
        return record

    async def find(self, tenant_id: str, key: Mapping[str, Any]) -> R | None:
        document = await self._collection(tenant_id).find_one(self._key(key), _NO_ID)
        return None if document is None else self._model(document)

    async def get(self, tenant_id: str, key: Mapping[str, Any]) -> R:
        record = await self.find(tenant_id, key)
        if record is None:
            raise self.not_found(key)
        return record

    async def find_many(
        self, tenant_id: str, field: str, values: Sequence[Any], where: Mapping[str, Any] = {}
    ) -> list[R]:
        query = {**where, field: {"$in": list(values)}}
        cursor = self._collection(tenant_id).find(query, _NO_ID)
        return [self._model(document) async for document in cursor]

    async def page(
        self, tenant_id: str, where: Mapping[str, Any], page: int, limit: int
    ) -> tuple[list[R], int]:
        collection = self._collection(tenant_id)
        total = await collection.count_documents(dict(where))
        cursor = (
            collection.find(dict(where), _NO_ID)
            .sort([(field, ASCENDING) for field in self.kind.key_fields])
            .skip((page - 1) * limit)
            .limit(limit)
        )
        return [self._model(document) async for document in cursor], total

    async def all(self, tenant_id: str, where: Mapping[str, Any] = {}) -> list[R]:
        cursor = self._collection(tenant_id).find(dict(where), _NO_ID)
        return [self._model(document) async for document in cursor]

    async def exists(self, tenant_id: str, where: Mapping[str, Any]) -> bool:
        return await self._collection(tenant_id).find_one(dict(where), {"_id": True}) is not None

    async def update(self, tenant_id: str, key: Mapping[str, Any], changes: Mapping[str, Any]) -> R:
        """Applies `changes` (python-mode values) and bumps updated_at; 404 if absent."""
        document = await self._collection(tenant_id).find_one_and_update(
            self._key(key),
            {"$set": {**changes, "updated_at": now_ms()}},
            projection=_NO_ID,
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise self.not_found(key)
        return self._model(document)

    async def delete(self, tenant_id: str, key: Mapping[str, Any]) -> None:
        result = await self._collection(tenant_id).delete_one(self._key(key))
        if result.deleted_count == 0:
            raise self.not_found(key)

    async def delete_where(self, tenant_id: str, where: Mapping[str, Any]) -> int:
        result = await self._collection(tenant_id).delete_many(dict(where))
        return int(result.deleted_count)
