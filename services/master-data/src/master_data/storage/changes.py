"""Catalog changes as MongoDB's change streams tell them: the one source of master-data's feed.

One cluster-wide stream per process covers every tenant's database (`masterdata_<tenant>`),
filtered on the server to the collections an item's detail or a payment method is made of
(WATCHED) and to the feed's own marks. Each event is decoded into a `CatalogChange` with the
record's new value (the current document, `updateLookup`) or, for a delete, its key read from
the pre-image (collections get `changeStreamPreAndPostImages` when a tenant is set up; without
a pre-image the key is unknown and the change says so).

A resume token is the event's `_id._data` (hex), the same for the same change on every stream
and every master-data replica; the stream's position between events (its post-batch resume
token) is one too. A subscriber resuming from a token reads a catch-up stream of its own until
it meets a **mark**: a document the feed inserts into the tenant's `feed_marks` after
registering the subscriber with the shared stream, so that both streams see it at the same
point of the database's history and the subscriber can switch from one to the other without a
gap or a repeat (services/catalog_feed.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.errors import OperationFailure

from master_data.domain import CatalogChange, ChangeKind, Record
from master_data.identifiers import ResumeTokenError
from master_data.storage import DATABASE_PREFIX
from master_data.storage.kinds import ITEMS, PAYMENT_METHODS, STORE_PRICES, STORES, TAX_RULES
from master_data.storage.records import RecordKind
from pos_commons.mongo import Document, Mongo

_log = logging.getLogger(__name__)

WATCHED: dict[str, tuple[ChangeKind, RecordKind[Any]]] = {
    ITEMS.collection: (ChangeKind.ITEM, ITEMS),
    STORE_PRICES.collection: (ChangeKind.STORE_PRICE, STORE_PRICES),
    TAX_RULES.collection: (ChangeKind.TAX_RULE, TAX_RULES),
    PAYMENT_METHODS.collection: (ChangeKind.PAYMENT_METHOD, PAYMENT_METHODS),
    STORES.collection: (ChangeKind.STORE, STORES),
}
"""Categories are not watched: nothing cart keeps depends on a category's own fields."""

MARKS = "feed_marks"
MARK_TTL_SECONDS = 3600
MAX_AWAIT_MS = 500
"""How long one getMore of a quiet stream waits on the server for a change."""

# Server error codes: the history behind a token is gone (ChangeStreamHistoryLost,
# ChangeStreamFatalError), or the token is not one (FailedToParse, InvalidResumeToken, a
# token of another scope).
_HISTORY_LOST = frozenset({280, 286})
_BAD_TOKEN = frozenset({9, 13, 260})
_NAMESPACE_NOT_FOUND = 26
_NAMESPACE_EXISTS = 48
_DESTROYING = frozenset({"drop", "rename", "dropDatabase", "invalidate"})


class HistoryLostError(Exception):
    """The database no longer has the history after this token."""


@dataclass(frozen=True)
class Mark:
    """A feed mark (see the module docstring) as a stream saw it."""

    tenant_id: str
    mark_id: str
    token: str


@dataclass(frozen=True)
class Dropped:
    """A watched collection of the tenant was dropped or renamed: its records are all gone."""

    tenant_id: str
    token: str


StreamEvent = CatalogChange | Mark | Dropped


def token_of(resume_token: Mapping[str, Any] | None) -> str:
    """The feed's token (the hex `_data`) of a driver resume token."""
    if not resume_token or not isinstance(resume_token.get("_data"), str):
        raise ValueError("a resume token without _data")
    return str(resume_token["_data"])


class ChangeStreams:
    def __init__(self, mongo: Mongo, database_prefix: str = DATABASE_PREFIX) -> None:
        self._mongo = mongo
        self._prefix = f"{database_prefix}_"

    def _pipeline(self, tenant_id: str | None) -> list[Document]:
        if tenant_id is None:
            # Tenant ids start with [a-z0-9]; the service's own database is `<prefix>_system`.
            database: Any = {"$regex": f"^{self._prefix}[a-z0-9]"}
        else:
            database = f"{self._prefix}{tenant_id}"
        return [
            {
                "$match": {
                    "ns.db": database,
                    "$or": [
                        {"ns.coll": {"$in": list(WATCHED)}},
                        {"ns.coll": MARKS, "operationType": "insert"},
                    ],
                }
            }
        ]

    async def open(
        self, tenant_id: str | None = None, resume_token: str | None = None
    ) -> AsyncChangeStream[Document]:
        """A stream of every tenant's changes (or one tenant's), from now or after the token.

        Raises HistoryLostError when the database cannot resume from the token any more,
        ResumeTokenError when it is not a token; driver errors otherwise.
        """
        options: dict[str, Any] = {
            "full_document": "updateLookup",
            "full_document_before_change": "whenAvailable",
            # Each wait for changes is one operation under MONGODB_OPERATION_TIMEOUT_SECONDS:
            # it must end (empty) well before that deadline.
            "max_await_time_ms": min(
                MAX_AWAIT_MS, int(self._mongo.operation_timeout_seconds * 1000) // 2
            ),
        }
        if resume_token is not None:
            options["resume_after"] = {"_data": resume_token}
        try:
            return await self._mongo.client.watch(self._pipeline(tenant_id), **options)
        except OperationFailure as exc:
            if exc.code in _HISTORY_LOST:
                raise HistoryLostError(str(exc)) from exc
            if exc.code in _BAD_TOKEN:
                _log.info("resume token refused by the database: %s", exc)
                raise ResumeTokenError("The resume token is not one this feed gave out.") from exc
            raise

    async def put_mark(self, tenant_id: str) -> str:
        mark_id = uuid.uuid4().hex
        await self._mongo.tenant_db(tenant_id)[MARKS].insert_one(
            {"_id": mark_id, "at": datetime.now(UTC)}
        )
        return mark_id

    async def prepare(self, tenant_id: str) -> None:
        """Makes the tenant's deletes say which record went (pre-images), and its marks expire.

        Idempotent; run when a tenant is set up and for every tenant at start. A database
        without pre-images (MongoDB before 6.0) still works: its deletes name no key.
        """
        db = self._mongo.tenant_db(tenant_id)
        await db[MARKS].create_index("at", expireAfterSeconds=MARK_TTL_SECONDS)
        for collection in WATCHED:
            try:
                await db.command(
                    "collMod", collection, changeStreamPreAndPostImages={"enabled": True}
                )
            except OperationFailure as exc:
                if exc.code != _NAMESPACE_NOT_FOUND:
                    _log.warning("no pre-images for %s.%s: %s", db.name, collection, exc)
                    continue
                try:
                    # check_exists=False: no listCollections first, a database-wide action
                    # master-data's MongoDB user does not have (deploy/mongo/roles.json).
                    await db.create_collection(
                        collection,
                        check_exists=False,
                        changeStreamPreAndPostImages={"enabled": True},
                    )
                except OperationFailure as created:
                    if created.code != _NAMESPACE_EXISTS:  # else: created meanwhile by a write
                        raise

    def decode(self, event: Document) -> StreamEvent | None:
        """What a raw change event means for the feed; None for what it does not carry."""
        namespace = event.get("ns") or {}
        database = str(namespace.get("db", ""))
        if not database.startswith(self._prefix):
            return None
        tenant_id = database[len(self._prefix) :]
        token = token_of(event.get("_id"))
        operation = event.get("operationType")
        collection = namespace.get("coll")
        if collection == MARKS:
            key = event.get("documentKey") or {}
            return Mark(tenant_id, str(key.get("_id")), token)
        watched = WATCHED.get(str(collection))
        if watched is None:
            return None
        kind, record_kind = watched
        if operation in _DESTROYING:
            return Dropped(tenant_id, token)
        changed_at = _changed_at(event)
        if operation == "delete":
            before = event.get("fullDocumentBeforeChange")
            key = _key(record_kind, before) if before else {}
            return CatalogChange(tenant_id, kind, key, None, changed_at, token)
        if operation not in ("insert", "update", "replace"):
            return None
        document = event.get("fullDocument")
        if document is None:
            return None  # deleted since: its delete event follows
        try:
            record: Record = record_kind.model.model_validate(document)
        except ValidationError as exc:
            # Not a record master-data would write: every record of the kind is suspect.
            _log.error("unreadable %s in %s: %s", record_kind.label, database, exc)
            return CatalogChange(tenant_id, kind, {}, None, changed_at, token)
        return CatalogChange(
            tenant_id, kind, _key(record_kind, document), record, changed_at, token
        )


def _key(kind: RecordKind[Any], document: Mapping[str, Any]) -> dict[str, str]:
    return {field: str(document.get(field, "")) for field in kind.key_fields}


def _changed_at(event: Document) -> datetime:
    wall_time = event.get("wallTime")
    if isinstance(wall_time, datetime):
        return wall_time if wall_time.tzinfo else wall_time.replace(tzinfo=UTC)
    cluster_time = event.get("clusterTime")
    seconds = getattr(cluster_time, "time", None)
    return datetime.fromtimestamp(seconds, UTC) if seconds else datetime.now(UTC)
