"""MongoDB through PyMongo's async API: one client per process, one database per tenant.

The client is created in the app lifespan and closed there once. Decimal values go in and come
out as Decimal (stored as Decimal128), datetimes come back timezone-aware in UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

import pymongo
from bson.codec_options import CodecOptions, TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from pos_commons.errors import UnprocessableError
from pos_commons.validation import is_tenant_id

_log = logging.getLogger(__name__)

Document = dict[str, Any]


class _DecimalCodec(TypeCodec):
    python_type = Decimal
    bson_type = Decimal128

    def transform_python(self, value: Decimal) -> Decimal128:
        return Decimal128(value)

    def transform_bson(self, value: Decimal128) -> Decimal:
        return value.to_decimal()


CODEC_OPTIONS: CodecOptions[Document] = CodecOptions(
    document_class=dict,
    tz_aware=True,
    tzinfo=UTC,
    type_registry=TypeRegistry([_DecimalCodec()]),
)


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class InvalidTenantIdError(UnprocessableError):
    default_code = "INVALID_TENANT_ID"


class Mongo:
    """The process's MongoDB client and the per-tenant databases of one service."""

    def __init__(self, uri: str, *, database_prefix: str, timeout_seconds: float) -> None:
        timeout_ms = int(timeout_seconds * 1000)
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms * 2, 10_000),
            appname=database_prefix,
            tz_aware=True,
        )
        self._prefix = database_prefix
        self._closed = False

    def tenant_db(self, tenant_id: str) -> AsyncDatabase[Document]:
        if not is_tenant_id(tenant_id):
            raise InvalidTenantIdError(f"Tenant id {tenant_id!r} is not a valid identifier.")
        return self.client.get_database(f"{self._prefix}_{tenant_id}", codec_options=CODEC_OPTIONS)

    def system_db(self) -> AsyncDatabase[Document]:
        """The service's own database for data that belongs to no single tenant."""
        return self.client.get_database(f"{self._prefix}__system", codec_options=CODEC_OPTIONS)

    async def ping(self, timeout_seconds: float = 2.0) -> bool:
        try:
            with pymongo.timeout(timeout_seconds):
                await self.client.admin.command("ping")
        except PyMongoError as exc:
            _log.debug("mongo ping failed: %s", exc)
            return False
        return True

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.client.close()


async def ensure_indexes(db: AsyncDatabase[Document], specs: Sequence[IndexSpec]) -> None:
    for spec in specs:
        options = dict(spec.options)
        if spec.name:
            options["name"] = spec.name
        await db[spec.collection].create_index(list(spec.keys), unique=spec.unique, **options)
