"""The first answer to each Idempotency-Key, kept so a retry gets it again.

One document per key and terminal (`_id` "<store>/<terminal>/<key>"), in the tenant's
database, expiring with a TTL index. It holds the request's fingerprint and the answer: the
status and either the response's data, as sent (JSON bytes), or the error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson.binary import Binary
from pymongo.errors import DuplicateKeyError

from cart.storage.carts import IDEMPOTENCY, TenantDatabases


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    data: bytes | None
    """The success answer's `data`, JSON-encoded; None for an error answer."""
    error: dict[str, Any] | None
    """{code, message, details} of an error answer."""


class IdempotencyRecords:
    def __init__(self, databases: TenantDatabases) -> None:
        self._databases = databases

    async def find(self, tenant_id: str, record_id: str) -> StoredAnswer | None:
        db = await self._databases.db(tenant_id)
        document = await db[IDEMPOTENCY].find_one({"_id": record_id})
        if document is None:
            return None
        data = document.get("data")
        return StoredAnswer(
            fingerprint=document["fingerprint"],
            status=int(document["status"]),
            data=bytes(data) if data is not None else None,
            error=document.get("error"),
        )

    async def keep(
        self, tenant_id: str, record_id: str, answer: StoredAnswer, expires_at: datetime
    ) -> None:
        """Stores the first answer; a record already there (a racing retry) stays."""
        db = await self._databases.db(tenant_id)
        document = {
            "_id": record_id,
            "fingerprint": answer.fingerprint,
            "status": answer.status,
            "data": Binary(answer.data) if answer.data is not None else None,
            "error": answer.error,
            "expires_at": expires_at,
        }
        with contextlib.suppress(DuplicateKeyError):
            await db[IDEMPOTENCY].insert_one(document)
