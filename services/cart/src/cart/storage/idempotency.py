"""Idempotency-Key records: a key is claimed before its change runs, and its first answer is
kept so a retry gets it again.

One document per key and terminal (`_id` "<store>/<terminal>/<key>"), in the tenant's
database, expiring with a TTL index. It holds the request's fingerprint from the moment the
key is claimed (`status` null: the change is in flight, or its process stopped before it
answered), then the answer: the status and either the response's data, as sent (JSON bytes),
or the error.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson.binary import Binary
from pymongo.errors import DuplicateKeyError, PyMongoError

from cart.storage.carts import IDEMPOTENCY, TenantDatabases
from pos_commons.errors import AppError

_log = logging.getLogger(__name__)

_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int | None
    """None while the key is claimed and its answer not kept yet."""
    data: bytes | None
    """The success answer's `data`, JSON-encoded; None for an error answer."""
    error: dict[str, Any] | None
    """{code, message, details} of an error answer."""

    @property
    def pending(self) -> bool:
        return self.status is None


def _answer_fields(answer: StoredAnswer, expires_at: datetime) -> dict[str, Any]:
    return {
        "fingerprint": answer.fingerprint,
        "status": answer.status,
        "data": Binary(answer.data) if answer.data is not None else None,
        "error": answer.error,
        "expires_at": expires_at,
    }


class IdempotencyRecords:
    def __init__(self, databases: TenantDatabases) -> None:
        self._databases = databases

    async def find(self, tenant_id: str, record_id: str) -> StoredAnswer | None:
        idempotency = await self._databases.collection(tenant_id, IDEMPOTENCY)
        document = await idempotency.find_one({"_id": record_id})
        if document is None:
            return None
        data = document.get("data")
        status = document.get("status")
        return StoredAnswer(
            fingerprint=document["fingerprint"],
            status=int(status) if status is not None else None,
            data=bytes(data) if data is not None else None,
            error=document.get("error"),
        )

    async def claim(
        self, tenant_id: str, record_id: str, fingerprint: str, expires_at: datetime
    ) -> StoredAnswer | None:
        """Claims the key for a request with `fingerprint`: None if this call claimed it, else
        the record already there (claimed by another call, or answered)."""
        idempotency = await self._databases.collection(tenant_id, IDEMPOTENCY)
        claimed = {
            "_id": record_id,
            **_answer_fields(StoredAnswer(fingerprint, None, None, None), expires_at),
        }
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                await idempotency.insert_one(claimed)
            except DuplicateKeyError:
                kept = await self.find(tenant_id, record_id)
                if kept is not None:
                    return kept
                continue  # gone between the two commands (released, or expired): again
            return None
        return None  # released over and over: the cart's own keys still guard the change

    async def keep(
        self, tenant_id: str, record_id: str, answer: StoredAnswer, expires_at: datetime
    ) -> StoredAnswer | None:
        """Keeps `answer` as the key's answer, unless one is kept already (a racing retry
        answered first): the answer kept, either way; None if the database failed (the
        answer is not kept, and the call's own answer stands)."""
        try:
            return await self._keep(tenant_id, record_id, answer, expires_at)
        except (PyMongoError, AppError) as exc:
            _log.warning("idempotency answer not kept: %s", type(exc).__name__)
            return None

    async def _keep(
        self, tenant_id: str, record_id: str, answer: StoredAnswer, expires_at: datetime
    ) -> StoredAnswer:
        fields = _answer_fields(answer, expires_at)
        idempotency = await self._databases.collection(tenant_id, IDEMPOTENCY)
        result = await idempotency.update_one(
            {"_id": record_id, "fingerprint": answer.fingerprint, "status": None},
            {"$set": fields},
        )
        if result.matched_count:
            return answer
        with contextlib.suppress(DuplicateKeyError):  # the claim expired meanwhile
            await idempotency.insert_one({"_id": record_id, **fields})
            return answer
        kept = await self.find(tenant_id, record_id)
        return kept if kept is not None and not kept.pending else answer

    async def release(self, tenant_id: str, record_id: str, fingerprint: str) -> None:
        """Gives up a claim whose call did nothing (a retry runs it again); a database
        failure is logged, not raised (the retry waits a moment for the claim instead)."""
        try:
            idempotency = await self._databases.collection(tenant_id, IDEMPOTENCY)
            await idempotency.delete_one(
                {"_id": record_id, "fingerprint": fingerprint, "status": None}
            )
        except (PyMongoError, AppError) as exc:
            _log.warning("idempotency claim not released: %s", type(exc).__name__)
