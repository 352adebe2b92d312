"""Idempotency-Key (the IETF header) on cart's changes: a retried call gets the first answer
and nothing happens twice.

The first answer to a key (status, and the response's data or error) is kept for the cart's
lifetime (CART_TTL_SECONDS from the call) in the tenant's database, per terminal. A call
whose key has an answer gets that answer again (`Idempotent-Replayed: true`), if its
request is the same (method, path and body: the fingerprint); another request under the same
key is refused with 422 IDEMPOTENCY_KEY_REUSED.

Nothing happens twice even when the answer was not kept (the process stopped just after the
change) or is not kept yet (the first call is still in flight): the change writes its key
into the cart with it, so a retry that finds the key there does not apply it again; it waits
a moment for the first answer and else answers the cart as it is. Two calls in flight with
one key therefore never fail: whichever changes the cart first wins, and both answer the same.

Answers kept: successes and the 4xx refusals (the call ran and decided). Not kept: 5xx
answers and CART_CONFLICT (nothing happened; the retry should run again).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from pymongo.errors import PyMongoError

from cart.domain.model import Cart, now_ms
from cart.services.carts import AlreadyAppliedError
from cart.storage.idempotency import IdempotencyRecords, StoredAnswer
from cart.storage.terminals import Terminal
from pos_commons.errors import AppError, UnprocessableError

_log = logging.getLogger(__name__)

_NOT_KEPT = frozenset({"CART_CONFLICT", "IDEMPOTENCY_KEY_REUSED"})
# How long a retry that found its key in the cart waits for the first call's answer.
_WAIT_SECONDS = 2.0
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    fingerprint: str


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests the same: method, path and body (its JSON value, so spacing
    and the order of fields do not matter)."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int
    data: bytes | None
    error: dict[str, Any] | None
    replayed: bool = False


class IdempotencyKeyReusedError(UnprocessableError):
    default_code = "IDEMPOTENCY_KEY_REUSED"


class Idempotency:
    def __init__(self, records: IdempotencyRecords, cart_ttl_seconds: int) -> None:
        self._records = records
        self._ttl = timedelta(seconds=cart_ttl_seconds)

    async def answer(
        self,
        terminal: Terminal,
        request: IdempotentRequest,
        status: int,
        call: Callable[[str], Awaitable[Cart]],
        encode: Callable[[Cart], bytes],
    ) -> Answer:
        """The answer to `call` made with `request`'s key: its own, or the first one's.

        `encode` makes a cart the answer's `data` as sent (the API's public shape, as JSON):
        encoded once, and kept as is to be replayed."""
        record = f"{terminal.store_code}/{terminal.terminal_no}/{request.key}"
        kept = await self._records.find(terminal.tenant_id, record)
        if kept is not None:
            return _replayed(kept, request)
        try:
            cart = await call(request.key)
        except AlreadyAppliedError as applied:
            kept = await self._wait_for(terminal.tenant_id, record)
            if kept is not None:
                return _replayed(kept, request)
            return Answer(status, encode(applied.cart), None, replayed=True)
        except AppError as refused:
            if 400 <= refused.status_code < 500 and refused.code not in _NOT_KEPT:
                error = {"code": refused.code, "message": refused.message,
                         "details": refused.details}  # fmt: skip
                await self._keep(
                    terminal, record, request, Answer(refused.status_code, None, error)
                )
            raise
        answer = Answer(status, encode(cart), None)
        await self._keep(terminal, record, request, answer)
        return answer

    async def _wait_for(self, tenant_id: str, record: str) -> StoredAnswer | None:
        deadline = time.monotonic() + _WAIT_SECONDS
        while True:
            kept = await self._records.find(tenant_id, record)
            if kept is not None or time.monotonic() >= deadline:
                return kept
            await asyncio.sleep(_POLL_SECONDS)

    async def _keep(
        self, terminal: Terminal, record: str, request: IdempotentRequest, answer: Answer
    ) -> None:
        stored = StoredAnswer(request.fingerprint, answer.status, answer.data, answer.error)
        expires = now_ms() + self._ttl
        try:
            await self._records.keep(terminal.tenant_id, record, stored, expires)
        except (PyMongoError, AppError) as exc:
            # The answer stands; a retry finds the key in the cart and answers the cart.
            _log.warning("idempotency answer not kept: %s", type(exc).__name__)


def _replayed(kept: StoredAnswer, request: IdempotentRequest) -> Answer:
    if kept.fingerprint != request.fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used for another request; use a new key for a new request.",
        )
    return Answer(kept.status, kept.data, kept.error, replayed=True)
