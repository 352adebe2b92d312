"""One generic store for every master-data record type, keyed by its business code(s)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from master_data.domain import Record, now_ms
from pos_commons.errors import ConflictError, NotFoundError
from pos_commons.mongo import Document, IndexSpec, Mongo

R = TypeVar("R", bound=Record)

_NO_ID = {"_id": False}
_DUPLICATE_KEY = 11000
# A bulk read of keys by their sorted range gives up on a range holding this many times more
# records than keys (keys scattered over the collection) and reads them one by one.
_RANGE_SLACK = 2
_KEY_READS_IN_FLIGHT = 8

KeyTuple = tuple[Any, ...]


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

    def key_of(self, fields: Mapping[str, Any]) -> KeyTuple:
        """The record's business key, as a tuple (its key fields in order)."""
        return tuple(fields[field] for field in self.kind.key_fields)

    def _model(self, document: Document) -> R:
        return self.kind.model.model_validate(document)

    def not_found(self, key: Mapping[str, Any]) -> NotFoundError:
        return NotFoundError(
            f"No {self.kind.label} {self.kind.describe(key)!r}.",
            code=self.kind.not_found_code,
            details=dict(self._key(key)),
        )

    def already_exists(self, key: Mapping[str, Any]) -> ConflictError:
        return ConflictError(
            f"A {self.kind.label} {self.kind.describe(key)!r} already exists.",
            code=self.kind.exists_code,
            details=dict(self._key(key)),
        )

    async def insert(self, tenant_id: str, record: R) -> R:
        document = record.model_dump(mode="python", by_alias=False)
        try:
            await self._collection(tenant_id).insert_one(document)
        except DuplicateKeyError as exc:
            raise self.already_exists(document) from exc
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

    # -- bulk ---------------------------------------------------------------------------------

    async def existing(
        self, tenant_id: str, keys: Sequence[Mapping[str, Any]]
    ) -> dict[KeyTuple, Document]:
        """The stored documents of `keys`, by key tuple (absent keys are absent).

        Read by ranges of the sorted keys (one index range per value of the leading key
        fields), which a sorted file (an export, most catalogs) makes exact: one command per
        batch where `$in` would cost one index probe per key, which not every MongoDB-protocol
        server plans as well. Keys scattered over a large collection are read one by one.
        """
        groups: dict[KeyTuple, list[Any]] = {}
        *leading, last = self.kind.key_fields
        for key in keys:
            groups.setdefault(tuple(key[field] for field in leading), []).append(key[last])
        found: dict[KeyTuple, Document] = {}
        for prefix, values in groups.items():
            wanted = set(values)
            query = {**dict(zip(leading, prefix, strict=True)),
                     last: {"$gte": min(values), "$lte": max(values)}}  # fmt: skip
            bound = _RANGE_SLACK * len(wanted) + 16
            documents = [
                document
                async for document in self._collection(tenant_id).find(query, _NO_ID).limit(bound)
            ]
            if len(documents) < bound:
                for document in documents:
                    if document[last] in wanted:
                        found[self.key_of(document)] = document
                continue
            for document in await self._each(tenant_id, prefix, sorted(wanted)):
                found[self.key_of(document)] = document
        return found

    async def _each(self, tenant_id: str, prefix: KeyTuple, values: list[Any]) -> list[Document]:
        *leading, last = self.kind.key_fields
        limit = asyncio.Semaphore(_KEY_READS_IN_FLIGHT)
        collection = self._collection(tenant_id)

        async def read(value: Any) -> Document | None:
            async with limit:
                query = {**dict(zip(leading, prefix, strict=True)), last: value}
                document: Document | None = await collection.find_one(query, _NO_ID)
                return document

        return [d for d in await asyncio.gather(*(read(value) for value in values)) if d]

    async def insert_many(self, tenant_id: str, documents: Sequence[Document]) -> set[int]:
        """Inserts `documents` (records' fields, validated; unordered: one failure stops no
        other); the positions of those whose key exists already (inserted meanwhile)."""
        if not documents:
            return set()
        try:
            await self._collection(tenant_id).insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors) or not errors:
                raise
            return {int(error["index"]) for error in errors}
        return set()

    async def update_each(
        self, tenant_id: str, changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Applies each (key, changes) pair, bumping updated_at, in one unordered command."""
        if not changes:
            return
        now = now_ms()
        await self._collection(tenant_id).bulk_write(
            [
                UpdateOne(self._key(key), {"$set": {**fields, "updated_at": now}})
                for key, fields in changes
            ],
            ordered=False,
        )

    def stream(self, tenant_id: str, where: Mapping[str, Any] = {}) -> Any:
        """Every record matching `where`, in key order, as an async iterator of documents."""
        return (
            self._collection(tenant_id)
            .find(dict(where), _NO_ID)
            .sort([(field, ASCENDING) for field in self.kind.key_fields])
        )
