"""Terminals and their API keys. Only a SHA-256 of each key is stored.

Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force that a
slow password hash would protect.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from cart.domain.model import CartModel
from pos_commons.errors import ConflictError, NotFoundError
from pos_commons.mongo import IndexSpec, Mongo, ensure_indexes

TERMINALS = "terminals"


class Terminal(CartModel):
    terminal_id: str
    tenant_id: str
    store_code: str
    terminal_no: int
    created_at: datetime
    updated_at: datetime


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class TerminalNotFoundError(NotFoundError):
    default_code = "TERMINAL_NOT_FOUND"


class TerminalStore:
    def __init__(self, mongo: Mongo) -> None:
        self._mongo = mongo

    @property
    def _collection(self) -> Any:
        # Fetched per operation, so a database known to be down answers 503 at once.
        return self._mongo.system_db()[TERMINALS]

    async def setup(self) -> None:
        await ensure_indexes(
            self._mongo.system_db(),
            [
                IndexSpec(TERMINALS, [("key_hash", ASCENDING)], unique=True),
                IndexSpec(
                    TERMINALS,
                    [
                        ("tenant_id", ASCENDING),
                        ("store_code", ASCENDING),
                        ("terminal_no", ASCENDING),
                    ],
                    unique=True,
                ),
            ],
        )

    async def insert(self, terminal: Terminal, hashed_key: str) -> None:
        document = {
            "_id": terminal.terminal_id,
            **terminal.model_dump(by_alias=False),
            "key_hash": hashed_key,
        }
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError as exc:
            existing = await self._collection.find_one(
                {
                    "tenant_id": terminal.tenant_id,
                    "store_code": terminal.store_code,
                    "terminal_no": terminal.terminal_no,
                }
            )
            raise ConflictError(
                f"Terminal {terminal.terminal_no} of store {terminal.store_code} exists; "
                "rotate its key instead.",
                code="TERMINAL_EXISTS",
                details={"terminalId": existing["_id"] if existing else None},
            ) from exc

    async def by_key_hash(self, hashed_key: str) -> Terminal | None:
        document = await self._collection.find_one({"key_hash": hashed_key})
        return None if document is None else Terminal.model_validate(document)

    async def replace_key(self, terminal_id: str, hashed_key: str, now: datetime) -> Terminal:
        document = await self._collection.find_one_and_update(
            {"_id": terminal_id},
            {"$set": {"key_hash": hashed_key, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise TerminalNotFoundError(f"No terminal {terminal_id!r}.")
        return Terminal.model_validate(document)

    async def delete(self, terminal_id: str) -> str:
        """Deletes the terminal; returns the hash of the key it had."""
        document = await self._collection.find_one_and_delete({"_id": terminal_id})
        if document is None:
            raise TerminalNotFoundError(f"No terminal {terminal_id!r}.")
        return str(document["key_hash"])

    async def list(self, tenant_id: str | None) -> list[Terminal]:
        query = {} if tenant_id is None else {"tenant_id": tenant_id}
        cursor = self._collection.find(query).sort(
            [("tenant_id", ASCENDING), ("store_code", ASCENDING), ("terminal_no", ASCENDING)]
        )
        return [Terminal.model_validate(document) async for document in cursor]
