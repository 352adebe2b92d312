"""What can go wrong when cart asks master-data, said once for both transports.

Each adapter turns what it saw (an HTTP status and error code, a gRPC status and the
`x-error-code` trailer, a broken connection, a malformed answer) into one of the kinds below,
in one translation of its own (http_adapter.py, grpc_adapter.py), and raises `failure(kind)`:
the `MasterDataError` the terminal gets. `FAILURES` decides, for both transports alike, its
status, error code and message, and whether the lookup is tried again (`Retrier`, below).
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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from cart.retrying import retry_after
from pos_commons import deadlines
from pos_commons.admission import OVERLOADED
from pos_commons.errors import (
    AppError,
    BadGatewayError,
    GatewayTimeoutError,
    NotFoundError,
    ServiceUnavailableError,
)
from pos_commons.transport import Transport

_log = logging.getLogger(__name__)

T = TypeVar("T")


class Failure(StrEnum):
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    TOO_SLOW = "too_slow"
    DATABASE_UNAVAILABLE = "database_unavailable"
    BAD_ANSWER = "bad_answer"
    REJECTED_CREDENTIALS = "rejected_credentials"


class MasterDataError(AppError):
    """A call to master-data that failed, of one kind of the table: the error the terminal
    gets. `seen` is for the log: what the transport reported."""

    kind: ClassVar[Failure]

    def __init__(self, message: str, *, code: str | None = None, seen: str = "") -> None:
        super().__init__(message, code=code)
        self.seen = seen

    @property
    def retried(self) -> bool:
        return FAILURES[self.kind].retried

    def described(self) -> str:
        return f"{self.kind}: {self.seen}"


class MasterDataNotFoundError(MasterDataError, NotFoundError):
    kind = Failure.NOT_FOUND


class MasterDataUnavailableError(MasterDataError, ServiceUnavailableError):
    kind = Failure.UNAVAILABLE
    default_code = "MASTER_DATA_UNAVAILABLE"


class MasterDataOverloadedError(MasterDataError, ServiceUnavailableError):
    kind = Failure.OVERLOADED
    default_code = "MASTER_DATA_OVERLOADED"


class MasterDataTimeoutError(MasterDataError, GatewayTimeoutError):
    kind = Failure.TOO_SLOW
    default_code = "MASTER_DATA_TIMEOUT"


class MasterDataDatabaseUnavailableError(MasterDataError, ServiceUnavailableError):
    kind = Failure.DATABASE_UNAVAILABLE
    default_code = "MASTER_DATA_DATABASE_UNAVAILABLE"


class MasterDataBadAnswerError(MasterDataError, BadGatewayError):
    kind = Failure.BAD_ANSWER
    default_code = "MASTER_DATA_ERROR"


class MasterDataAuthError(MasterDataError, BadGatewayError):
    kind = Failure.REJECTED_CREDENTIALS
    default_code = "MASTER_DATA_AUTH_FAILED"


@dataclass(frozen=True)
class FailureRule:
    error: type[MasterDataError]
    message: str
    retried: bool


FAILURES: dict[Failure, FailureRule] = {
    # The message is master-data's own (`failure`).
    Failure.NOT_FOUND: FailureRule(MasterDataNotFoundError, "", retried=False),
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


def failure(kind: Failure, seen: str, *, code: str = "", message: str = "") -> MasterDataError:
    """The error of a call that failed with `kind` (master-data's own code and message for
    a not-found: the terminal is told which of tenant, store, item or payment method)."""
    if kind is Failure.NOT_FOUND:
        return MasterDataNotFoundError(f"master-data: {message}", code=code, seen=seen)
    rule = FAILURES[kind]
    return rule.error(rule.message, seen=seen)


def by_code(code: str) -> Failure | None:
    """The kind master-data's error code says, on either transport; None: its status says."""
    if code in NOT_FOUND_CODES:
        return Failure.NOT_FOUND
    if code in DATABASE_CODES:
        return Failure.DATABASE_UNAVAILABLE
    if code in _CREDENTIAL_CODES:
        return Failure.REJECTED_CREDENTIALS
    if code == OVERLOADED:  # no turn for the call: pos_commons.admission on HTTP, its own on gRPC
        return Failure.OVERLOADED
    return None


# --- the retry ---------------------------------------------------------------------------------
#
# One retry loop for both transports: a lookup is tried again only when master-data did not do
# it (`Failure.UNAVAILABLE`: refused, reset, a server going away), within one time budget.
#
# The budget is the transport's (HTTP_TIMEOUT, GRPC_TIMEOUT) or what is left of the request's
# own (`pos_commons.deadlines`), whichever ends first, and it bounds the whole lookup: every
# attempt, the first included, gets only what is left of it, waiting for a pooled connection
# included. Lookups are reads, so repeating one is always safe; nothing else is ever retried (a
# timeout is not: the budget is spent, and the server may still be working). The schedule is
# tenacity's: full-jitter exponential backoff, at most `max_attempts` in all, and no attempt
# started that could not finish before the budget ends. The first attempt is a plain call:
# tenacity's machinery costs even when nothing fails (docs/performance.md), which the
# hot path does not pay.

# An attempt with less time than this left is not worth starting.
_MIN_ATTEMPT_SECONDS = 0.01

Attempt = Callable[[float], Awaitable[T]]
"""One try at a lookup, given the seconds it may take in all. Raises MasterDataError when it
fails."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 0.5


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, MasterDataError) and exc.retried


class Retrier:
    def __init__(self, transport: Transport, budget_seconds: float, policy: RetryPolicy) -> None:
        self.transport = transport
        self.budget_seconds = budget_seconds
        self._policy = policy

    async def call(self, attempt: Attempt[T]) -> T:
        """`attempt`'s result; or, after retries, the MasterDataError it failed with."""
        budget = min(self.budget_seconds, deadlines.remaining())
        if budget < _MIN_ATTEMPT_SECONDS:
            seen = "the request's budget was spent before master-data was asked"
            spent = failure(Failure.TOO_SLOW, seen)
            self._report(spent)
            raise spent
        deadline = time.monotonic() + budget
        try:
            return await attempt(budget)
        except MasterDataError as error:
            if not error.retried or self._policy.max_attempts < 2:
                self._report(error)
                raise
            first_failure = error
        try:
            return await self._retry(attempt, deadline, first_failure)
        except MasterDataError as error:
            self._report(error)
            raise

    def _report(self, error: MasterDataError) -> None:
        """Logs what was seen when the terminal is to get `error` (a not-found is an answer,
        not a fault)."""
        if error.kind is not Failure.NOT_FOUND:
            _log.warning("master-data over %s: %s (%s)", self.transport, error.kind, error.seen)

    async def _retry(self, attempt: Attempt[T], deadline: float, first: Exception) -> T:
        policy = self._policy
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retried),
            stop=stop_after_attempt(policy.max_attempts)
            | stop_before_delay(deadline - time.monotonic() - _MIN_ATTEMPT_SECONDS),
            wait=wait_random_exponential(
                multiplier=policy.initial_backoff_seconds, max=policy.max_backoff_seconds
            ),
            reraise=True,
        )
        return await retry_after(
            first,
            retrying,
            lambda: attempt(max(deadline - time.monotonic(), _MIN_ATTEMPT_SECONDS)),
        )
