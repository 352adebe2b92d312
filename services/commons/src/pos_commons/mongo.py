"""MongoDB through PyMongo's async API: one client per process, one database per tenant.

The client is created in the app lifespan and closed there once. Decimal values go in and come
out as Decimal (stored as Decimal128), datetimes come back timezone-aware in UTC.

Availability: the driver's own topology monitoring (SDAM) tells `DatabaseAvailability` when no
writable server is left (about a second after MongoDB goes away) and when one is back. While it
is gone every database handle refuses at once with 503 DATABASE_UNAVAILABLE, instead of each
request waiting out server selection; answers that need no database (cached lookups, /health)
go on working. `database_error` is the one mapping of driver failures to API errors, used by
the HTTP error handlers and the gRPC servicers alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

import pymongo
from bson.codec_options import CodecOptions, TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient, WriteConcern, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from pymongo.read_concern import ReadConcern

from pos_commons.errors import (
    AppError,
    GatewayTimeoutError,
    ServiceUnavailableError,
    UnprocessableError,
)
from pos_commons.settings import ServiceSettings
from pos_commons.validation import is_tenant_id

_log = logging.getLogger(__name__)

Document = dict[str, Any]
HEARTBEAT_TIMEOUT_MS = 10_000
# How soon a database that is back is seen (pymongo's default: 10 s of 503s after it returned);
# the price is one `hello` every 2 s per server from each process.
HEARTBEAT_FREQUENCY_MS = 2_000


def readiness_collection(database_prefix: str) -> str:
    """The collection /ready writes and reads back a document in, in the service's own
    database. Its name carries the service's prefix: each service's MongoDB user may write
    collections of its own names only (deploy/mongo/roles.json), in whichever database."""
    return f"{database_prefix}_readiness"


# IEEE 754-2008 decimal128, binary integer decimal (BID) layout, as BSON stores it.
_EXPONENT_BIAS = 6176
_MIN_EXPONENT, _MAX_EXPONENT = -6176, 6111
_MAX_COEFFICIENT = 10**34 - 1
_LOW_64 = (1 << 64) - 1
_HIGH_COEFFICIENT_BITS = (1 << 49) - 1
_EXACT = Context(prec=40)
_pack_bid = struct.Struct("<QQ").pack
_unpack_bid = struct.Struct("<QQ").unpack


# Amounts repeat: prices, rates, the zeros of every line and total. Each direction keeps the
# conversions it made (exact keys, immutable values), starting over past this many.
_MEMO_LIMIT = 4096
_to_bson_memo: dict[str, Decimal128] = {}
_from_bson_memo: dict[bytes, Decimal] = {}


def decimal_to_bson(value: Decimal) -> Decimal128:
    """`Decimal128(value)`, bit for bit, at a twentieth of the cost for a value seen before.

    bson's own conversion goes through a decimal context and digit tuples in pure Python; a
    five-line cart holds some forty amounts, converted on every write. A value's text is
    exact (sign, every digit, exponent: 1.5 and 1.50 differ), so it keys the conversions
    already made; a new value is packed by `_pack_decimal`.
    """
    text = str(value)
    converted = _to_bson_memo.get(text)
    if converted is None:
        converted = _pack_decimal(value)
        _remember(_to_bson_memo, text, converted)
    return converted


def decimal_from_bson(value: Decimal128) -> Decimal:
    """`value.to_decimal()`, same digits and exponent; a value seen before costs a lookup."""
    bid = value.bid
    converted = _from_bson_memo.get(bid)
    if converted is None:
        converted = _unpack_decimal(value)
        _remember(_from_bson_memo, bid, converted)
    return converted


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _pack_decimal(value: Decimal) -> Decimal128:
    """Finite values that fit are packed straight into the two 64-bit words, at a third of
    bson's cost; anything else (NaN, infinities, more than 34 digits, exponents out of
    range) goes to bson, which rounds or refuses."""
    sign, digits, exponent = value.as_tuple()
    if type(exponent) is int and len(digits) <= 34 and _MIN_EXPONENT <= exponent <= _MAX_EXPONENT:
        coefficient = int(value.copy_abs().scaleb(-exponent, _EXACT))
        high = sign << 63 | (exponent + _EXPONENT_BIAS) << 49 | coefficient >> 64
        return Decimal128.from_bid(_pack_bid(coefficient & _LOW_64, high))
    return Decimal128(value)


def _unpack_decimal(value: Decimal128) -> Decimal:
    low, high = _unpack_bid(value.bid)
    if (high >> 61) & 3 != 3:  # not the special form (NaN, infinity, non-canonical)
        coefficient = (high & _HIGH_COEFFICIENT_BITS) << 64 | low
        if coefficient <= _MAX_COEFFICIENT:
            exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
            return Decimal(f"{'-' if high >> 63 else ''}{coefficient}E{exponent}")
    return value.to_decimal()


class _DecimalCodec(TypeCodec):
    python_type = Decimal
    bson_type = Decimal128

    def transform_python(self, value: Decimal) -> Decimal128:
        return decimal_to_bson(value)

    def transform_bson(self, value: Decimal128) -> Decimal:
        return decimal_from_bson(value)


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


class DatabaseUnavailableError(ServiceUnavailableError):
    default_code = "DATABASE_UNAVAILABLE"


class DatabaseTimeoutError(GatewayTimeoutError):
    default_code = "DATABASE_TIMEOUT"


def database_error(exc: BaseException) -> AppError | None:
    """The API error a driver failure means, or None if `exc` is not one.

    No server to talk to is 503 DATABASE_UNAVAILABLE; a server that was reached but did not
    finish in time is 504 DATABASE_TIMEOUT. The driver's text (host names, topology) goes to
    the log, not to the caller.
    """
    if isinstance(exc, DatabaseUnavailableError):
        return exc
    if isinstance(exc, ServerSelectionTimeoutError):
        _log.warning("database unreachable: %s", exc)
        return DatabaseUnavailableError("The database cannot be reached.")
    if isinstance(exc, PyMongoError) and exc.timeout:
        # The operation's deadline (timeoutMS) ran out: waiting for a pooled connection,
        # on the wire, or in the server (maxTimeMS, a write concern's wait).
        _log.warning("database timeout: %s", exc)
        return DatabaseTimeoutError("The database did not answer in time.")
    if isinstance(exc, ConnectionFailure):
        _log.warning("database unreachable: %s", exc)
        return DatabaseUnavailableError("The database cannot be reached.")
    return None


class DatabaseAvailability(monitoring.TopologyListener):
    """Whether MongoDB has a writable server, as the driver's topology monitoring sees it.

    Optimistic until the driver has seen a writable server once: before that, an operation
    waits for server selection as usual (so start-up against a database that is still coming
    up works). Listeners run on the event loop, once per change.
    """

    def __init__(self) -> None:
        self.available = True
        self.closing = False
        self._seen_up = False
        self._listeners: list[Callable[[bool], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    def opened(self, event: monitoring.TopologyOpenedEvent) -> None:
        """Nothing to do: availability follows description changes."""

    def closed(self, event: monitoring.TopologyClosedEvent) -> None:
        """Nothing to do: the client is closing with the process."""

    def description_changed(self, event: monitoring.TopologyDescriptionChangedEvent) -> None:
        if self.closing:  # the client closing empties the topology: not an outage
            return
        up = event.new_description.has_writable_server()
        first_sight = up and not self._seen_up
        self._seen_up = self._seen_up or up
        if not self._seen_up or (up == self.available and not first_sight):
            return
        self.available = up
        if up:
            _log.log(
                logging.INFO if first_sight else logging.WARNING,
                "MongoDB %s",
                "reachable" if first_sight else "reachable again",
            )
        else:
            _log.warning("MongoDB has no writable server: answering 503 until it is back")
        if self._loop is not None and not self._loop.is_closed():
            # The driver may call from its own monitor; listeners run on the app's loop.
            self._loop.call_soon_threadsafe(self._notify, up)

    def _notify(self, up: bool) -> None:
        for listener in self._listeners:
            listener(up)


@dataclass(frozen=True)
class Concerns:
    """Write and read concern of every operation of a service (MONGODB_WRITE_CONCERN,
    MONGODB_JOURNAL, MONGODB_READ_CONCERN)."""

    w: int | str = "majority"
    journal: bool = True
    read_level: str = "majority"

    @property
    def write(self) -> WriteConcern:
        return WriteConcern(w=self.w, j=self.journal)

    @property
    def read(self) -> ReadConcern:
        return ReadConcern(self.read_level)

    def client_options(self) -> dict[str, Any]:
        """The client's own defaults, so every database, collection, session, transaction
        and change stream made from it inherits them: none can be forgotten."""
        return {"w": self.w, "journal": self.journal, "readConcernLevel": self.read_level}


class CommandCounter(monitoring.CommandListener):
    """Database commands sent, by name (`mongodb_commands_total` in /metrics): how many a
    request costs is a figure worth watching (docs/performance.md)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] = self.counts.get(event.command_name, 0) + 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Counted when sent."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Counted when sent."""


class Mongo:
    """The process's MongoDB client and the per-tenant databases of one service."""

    def __init__(
        self,
        uri: str,
        *,
        database_prefix: str,
        timeout_seconds: float,
        operation_timeout_seconds: float,
        max_idle_seconds: float,
        concerns: Concerns,
        listeners: Sequence[monitoring.CommandListener] = (),
    ) -> None:
        """`listeners`: more command listeners (pos_commons.instrumentation's, when tracing)."""
        timeout_ms = int(timeout_seconds * 1000)
        self.operation_timeout_seconds = operation_timeout_seconds
        self.availability = DatabaseAvailability()
        self.commands = CommandCounter()
        self.concerns = concerns
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            # Client-side operation timeout: one deadline per operation that covers waiting
            # for a pooled connection, server selection, the command and the driver's retry
            # (socketTimeoutMS and waitQueueTimeoutMS give way to it). A `pymongo.timeout`
            # block (a bill's transaction) sets its own.
            timeoutMS=int(operation_timeout_seconds * 1000),
            serverSelectionTimeoutMS=timeout_ms,
            # Also the driver's heartbeat timeout: a database that is busy, not gone, must not
            # be declared down (and answered 503 at once) because one hello took 2 s. A
            # database that stopped is noticed at once anyway (its connections are refused).
            connectTimeoutMS=max(timeout_ms, HEARTBEAT_TIMEOUT_MS),
            heartbeatFrequencyMS=HEARTBEAT_FREQUENCY_MS,
            # The async driver cannot see that the far end closed an idle pooled connection
            # (it does not read from it): retiring it first keeps a write from failing on it.
            maxIdleTimeMS=int(max_idle_seconds * 1000),
            appname=database_prefix,
            # The client's own codec too (not only each database's): a cluster-wide change
            # stream decodes with it.
            tz_aware=True,
            tzinfo=UTC,
            type_registry=CODEC_OPTIONS.type_registry,
            event_listeners=[self.availability, self.commands, *listeners],
            **concerns.client_options(),
        )
        # Built outside a loop (a script): there are no listeners to run.
        with contextlib.suppress(RuntimeError):
            self.availability.bind(asyncio.get_running_loop())
        self._prefix = database_prefix
        self.readiness_collection = readiness_collection(database_prefix)
        self._databases: dict[str, AsyncDatabase[Document]] = {}
        self._closed = False

    @classmethod
    def for_service(
        cls,
        settings: ServiceSettings,
        database_prefix: str,
        listeners: Sequence[monitoring.CommandListener] = (),
    ) -> Mongo:
        """The client a service's settings describe (MONGODB_*)."""
        return cls(
            settings.mongodb_uri.get_secret_value(),
            database_prefix=database_prefix,
            timeout_seconds=settings.mongodb_timeout_seconds,
            operation_timeout_seconds=settings.mongodb_operation_timeout_seconds,
            max_idle_seconds=settings.mongodb_max_idle_seconds,
            concerns=Concerns(
                settings.write_concern_w, settings.mongodb_journal, settings.mongodb_read_concern
            ),
            listeners=listeners,
        )

    def _require_available(self) -> None:
        if not self.availability.available:
            raise DatabaseUnavailableError("The database cannot be reached.")

    def _database(self, name: str) -> AsyncDatabase[Document]:
        db = self._databases.get(name)
        if db is None:
            db = self._databases[name] = self.client.get_database(name, codec_options=CODEC_OPTIONS)
        return db

    def tenant_db(self, tenant_id: str) -> AsyncDatabase[Document]:
        """The tenant's database; 503 at once while the database is known to be down."""
        if not is_tenant_id(tenant_id):
            raise InvalidTenantIdError(f"Tenant id {tenant_id!r} is not a valid identifier.")
        self._require_available()
        return self._database(f"{self._prefix}_{tenant_id}")

    def system_db(self) -> AsyncDatabase[Document]:
        """The service's own database for data that belongs to no single tenant."""
        self._require_available()
        return self._database(f"{self._prefix}__system")

    async def ready(self) -> bool:
        """Whether the database takes a write and answers a read within the operation
        deadline, with the service's concerns, and the driver has not seen it gone.

        Not a ping: a database can answer ping while its writes hang (a stalled disk, a
        held lock), and then every request would wait out its deadline on this replica.
        """
        if not self.availability.available:
            return False
        probes = self.system_db()[self.readiness_collection]
        try:
            with pymongo.timeout(self.operation_timeout_seconds):
                await probes.update_one(
                    {"_id": "probe"}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
                )
                await probes.find_one({"_id": "probe"})
        except PyMongoError as exc:
            _log.warning("readiness: the database did not take a write and a read: %s", exc)
            return False
        return True

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
            self.availability.closing = True
            await self.client.close()


async def ensure_indexes(db: AsyncDatabase[Document], specs: Sequence[IndexSpec]) -> None:
    for spec in specs:
        options = dict(spec.options)
        if spec.name:
            options["name"] = spec.name
        await db[spec.collection].create_index(list(spec.keys), unique=spec.unique, **options)
