"""What can go wrong when cart asks master-data, said once for both transports.

Each adapter turns what it saw (an HTTP status and error code, a gRPC status and the
`x-error-code` trailer, a broken connection, a malformed answer) into a `Failure` with
`classify_http` or `classify_grpc`, both below. `FAILURES` then decides, for both alike,
what the terminal gets (status, error code, message) and whether the lookup is tried again.
The details of what was seen go to the log, never to the terminal: the message of a failure
is the same whatever the transport.

| kind                 | cart answers                          | retried                      |
|----------------------|---------------------------------------|------------------------------|
| not found            | 404 with master-data's code           | no                           |
| unavailable          | 503 MASTER_DATA_UNAVAILABLE           | yes: the server did not do it |
| overloaded           | 503 MASTER_DATA_OVERLOADED            | no: it is shedding load      |
| too slow             | 504 MASTER_DATA_TIMEOUT               | no: the time is spent        |
| its database down    | 503 MASTER_DATA_DATABASE_UNAVAILABLE  | no: every replica shares it  |
| bad answer           | 502 MASTER_DATA_ERROR                 | no                           |
| rejected credentials | 502 MASTER_DATA_AUTH_FAILED           | no                           |

(master-data's not-found codes: TENANT_NOT_FOUND, STORE_NOT_FOUND, ITEM_NOT_FOUND,
PAYMENT_METHOD_NOT_FOUND.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import grpc

from pos_commons.admission import OVERLOADED
from pos_commons.errors import (
    AppError,
    BadGatewayError,
    GatewayTimeoutError,
    NotFoundError,
    ServiceUnavailableError,
)

_log = logging.getLogger(__name__)


class Failure(StrEnum):
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    TOO_SLOW = "too_slow"
    DATABASE_UNAVAILABLE = "database_unavailable"
    BAD_ANSWER = "bad_answer"
    REJECTED_CREDENTIALS = "rejected_credentials"


class MasterDataUnavailableError(ServiceUnavailableError):
    default_code = "MASTER_DATA_UNAVAILABLE"


class MasterDataOverloadedError(ServiceUnavailableError):
    default_code = "MASTER_DATA_OVERLOADED"


class MasterDataTimeoutError(GatewayTimeoutError):
    default_code = "MASTER_DATA_TIMEOUT"


class MasterDataDatabaseUnavailableError(ServiceUnavailableError):
    default_code = "MASTER_DATA_DATABASE_UNAVAILABLE"


class MasterDataBadAnswerError(BadGatewayError):
    default_code = "MASTER_DATA_ERROR"


class MasterDataAuthError(BadGatewayError):
    default_code = "MASTER_DATA_AUTH_FAILED"


@dataclass(frozen=True)
class FailureRule:
    error: type[AppError]
    message: str
    retried: bool


FAILURES: dict[Failure, FailureRule] = {
    Failure.NOT_FOUND: FailureRule(NotFoundError, "", retried=False),
    Failure.UNAVAILABLE: FailureRule(
        MasterDataUnavailableError,
        "master-data cannot be reached; try again shortly.",
        retried=True,
    ),
    # Refused at once, nothing done (master-data at GRPC_MAX_CONCURRENT_RPCS, or no turn
    # within its REQUEST_QUEUE_SECONDS): a retry would add to the load it is shedding.
    Failure.OVERLOADED: FailureRule(
        MasterDataOverloadedError,
        "master-data is serving as many calls as it can; try again shortly.",
        retried=False,
    ),
    Failure.TOO_SLOW: FailureRule(
        MasterDataTimeoutError, "master-data did not answer in time.", retried=False
    ),
    Failure.DATABASE_UNAVAILABLE: FailureRule(
        MasterDataDatabaseUnavailableError,
        "master-data cannot reach its database; try again shortly.",
        retried=False,
    ),
    Failure.BAD_ANSWER: FailureRule(
        MasterDataBadAnswerError,
        "master-data answered something cart cannot use.",
        retried=False,
    ),
    Failure.REJECTED_CREDENTIALS: FailureRule(
        MasterDataAuthError,
        "master-data refused cart's service token (SERVICE_TOKEN).",
        retried=False,
    ),
}

# master-data's own not-found codes, passed on as they are (with master-data's message).
NOT_FOUND_CODES = frozenset(
    {"TENANT_NOT_FOUND", "STORE_NOT_FOUND", "ITEM_NOT_FOUND", "PAYMENT_METHOD_NOT_FOUND"}
)
# master-data's codes for "my database did not answer", on either transport.
DATABASE_CODES = frozenset({"DATABASE_UNAVAILABLE", "DATABASE_TIMEOUT"})
_CREDENTIAL_CODES = frozenset({"AUTH_REQUIRED", "INVALID_TOKEN", "ADMIN_REQUIRED"})


class MasterDataCallError(Exception):
    """One failed attempt, classified. `seen` is for the log: what the transport reported."""

    def __init__(self, kind: Failure, seen: str, *, code: str = "", message: str = "") -> None:
        super().__init__(f"{kind}: {seen}")
        self.kind = kind
        self.seen = seen
        self.code = code
        self.message = message

    @property
    def retried(self) -> bool:
        return FAILURES[self.kind].retried

    def to_error(self, transport: str) -> AppError:
        """The error the terminal gets: the same for the same kind on both transports."""
        if self.kind is Failure.NOT_FOUND:
            return NotFoundError(f"master-data: {self.message}", code=self.code)
        _log.warning("master-data over %s: %s (%s)", transport, self.kind, self.seen)
        rule = FAILURES[self.kind]
        return rule.error(rule.message)


def _by_code(code: str) -> Failure | None:
    if code in NOT_FOUND_CODES:
        return Failure.NOT_FOUND
    if code in DATABASE_CODES:
        return Failure.DATABASE_UNAVAILABLE
    if code in _CREDENTIAL_CODES:
        return Failure.REJECTED_CREDENTIALS
    if code == OVERLOADED:  # no turn for the call: pos_commons.admission on HTTP, its own on gRPC
        return Failure.OVERLOADED
    return None


_HTTP_STATUS = {
    401: Failure.REJECTED_CREDENTIALS,
    403: Failure.REJECTED_CREDENTIALS,
    # From a proxy or a server that is going away: the request was not processed.
    502: Failure.UNAVAILABLE,
    503: Failure.UNAVAILABLE,
    504: Failure.TOO_SLOW,
}


def classify_http(status: int, code: str, message: str = "") -> MasterDataCallError:
    """An HTTP answer other than 200, by master-data's error code first, then its status."""
    kind = _by_code(code)
    if kind is Failure.NOT_FOUND and status != 404:
        kind = None
    kind = kind or _HTTP_STATUS.get(status, Failure.BAD_ANSWER)
    return MasterDataCallError(kind, f"HTTP {status} {code}".strip(), code=code, message=message)


_GRPC_STATUS = {
    grpc.StatusCode.UNAUTHENTICATED: Failure.REJECTED_CREDENTIALS,
    grpc.StatusCode.PERMISSION_DENIED: Failure.REJECTED_CREDENTIALS,
    grpc.StatusCode.UNAVAILABLE: Failure.UNAVAILABLE,
    # grpc's own concurrency limit (maximum_concurrent_rpcs) or a proxy's, without our code.
    grpc.StatusCode.RESOURCE_EXHAUSTED: Failure.OVERLOADED,
    # A call cancelled by the other side: the server went away under it (a call cart cancels
    # itself raises asyncio.CancelledError instead).
    grpc.StatusCode.CANCELLED: Failure.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: Failure.TOO_SLOW,
}


def classify_grpc(status: grpc.StatusCode, code: str, details: str = "") -> MasterDataCallError:
    """A failed gRPC call, by master-data's `x-error-code` first, then its status."""
    kind = _by_code(code)
    if kind is Failure.NOT_FOUND and status is not grpc.StatusCode.NOT_FOUND:
        kind = None
    kind = kind or _GRPC_STATUS.get(status, Failure.BAD_ANSWER)
    seen = f"{status.name} {code} {details}".strip()
    return MasterDataCallError(kind, seen, code=code, message=details)


def unreachable(seen: str) -> MasterDataCallError:
    """No connection, or it broke before a complete answer."""
    return MasterDataCallError(Failure.UNAVAILABLE, seen)


def too_slow(seen: str) -> MasterDataCallError:
    return MasterDataCallError(Failure.TOO_SLOW, seen)


def bad_answer(seen: str) -> MasterDataCallError:
    return MasterDataCallError(Failure.BAD_ANSWER, seen)
