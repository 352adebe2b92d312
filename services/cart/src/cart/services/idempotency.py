"""Idempotency-Key (the IETF header) on cart's changes: a retried call gets the first answer
and nothing happens twice.

A key is claimed (per terminal, in the tenant's database) before its change runs, with the
request's fingerprint (method, path and body); the first answer (status, and the response's
data or error) is then kept with it for CART_TTL_SECONDS from the call. A call whose key has
an answer gets that answer again (`Idempotent-Replayed: true`) if its request is the same;
another request under the same key is refused with 422 IDEMPOTENCY_KEY_REUSED, also while
the first is still in flight, so one key never makes two changes (on two carts, say).

Nothing happens twice even when the answer was not kept (the process stopped just after the
change) or is not kept yet (the first call is still in flight): the change writes its key
into the cart with it, so a call that finds the key there does not apply it again. A retry
of a call in flight waits a moment for its answer, else goes on: it finds the key in the
cart (or makes the change itself, once), and the cart as it is becomes the key's answer.
Whichever call keeps its answer first wins, and both answer the same.

Answers kept: successes and the 4xx refusals (the call ran and decided). Not kept: 5xx
answers and CART_CONFLICT (nothing happened; the claim is let go and a retry runs again).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import orjson

from cart.domain.idempotency_keys import AlreadyAppliedError
from cart.domain.model import Cart, now_ms
from cart.storage.idempotency import IdempotencyRecords, StoredAnswer
from cart.storage.terminals import Terminal
from pos_commons.errors import AppError, UnprocessableError

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
        tenant_id = terminal.tenant_id
        record = f"{terminal.store_code}/{terminal.terminal_no}/{request.key}"
        kept = await self._claimed(tenant_id, record, request)
        if kept is not None:
            return kept
        try:
            cart = await call(request.key)
        except AlreadyAppliedError as applied:
            # Applied by a call with this key whose answer is not kept (still in flight, or
            # its process stopped): the cart as it is now becomes the key's answer.
            answer = await self._keep(
                tenant_id, record, request, Answer(status, encode(applied.cart), None)
            )
            return replace(answer, replayed=True)
        except AppError as refused:
            if 400 <= refused.status_code < 500 and refused.code not in _NOT_KEPT:
                error = {"code": refused.code, "message": refused.message,
                         "details": refused.details}  # fmt: skip
                await self._keep(
                    tenant_id, record, request, Answer(refused.status_code, None, error)
                )
            else:
                await self._release(tenant_id, record, request)
            raise
        except BaseException:
            await self._release(tenant_id, record, request)
            raise
        return await self._keep(tenant_id, record, request, Answer(status, encode(cart), None))

    async def _claimed(
        self, tenant_id: str, record: str, request: IdempotentRequest
    ) -> Answer | None:
        """Claims the key for this request: None once claimed, else the key's answer to
        replay. The key of another request is refused (IDEMPOTENCY_KEY_REUSED) whether that
        request is answered or still in flight, so one key never makes two changes.

        A call of the same request in flight is waited for a moment; if it has not answered
        by then (or its process stopped), this call goes on without the claim: the key is
        written into the cart with its change, so the change is still made only once.
        """
        expires = now_ms() + self._ttl
        kept = await self._records.claim(tenant_id, record, request.fingerprint, expires)
        if kept is not None and kept.pending and kept.fingerprint == request.fingerprint:
            kept = await self._wait_for(tenant_id, record)
            if kept is None:  # the first call did nothing and let the key go
                kept = await self._records.claim(tenant_id, record, request.fingerprint, expires)
        if kept is None or (kept.pending and kept.fingerprint == request.fingerprint):
            return None
        return _replayed(kept, request)

    async def _wait_for(self, tenant_id: str, record: str) -> StoredAnswer | None:
        """The record once answered or released, or as it is after _WAIT_SECONDS."""
        deadline = time.monotonic() + _WAIT_SECONDS
        while True:
            await asyncio.sleep(_POLL_SECONDS)
            kept = await self._records.find(tenant_id, record)
            if kept is None or not kept.pending or time.monotonic() >= deadline:
                return kept

    async def _keep(
        self, tenant_id: str, record: str, request: IdempotentRequest, answer: Answer
    ) -> Answer:
        """Keeps `answer` as the key's; the answer kept first wins (both calls of a race
        answer the same)."""
        stored = StoredAnswer(request.fingerprint, answer.status, answer.data, answer.error)
        kept = await self._records.keep(tenant_id, record, stored, now_ms() + self._ttl)
        if kept is None or kept is stored or kept.status is None:
            # None: not kept (the database failed); the answer stands, and a retry finds
            # the key in the cart and answers the cart.
            return answer
        return Answer(kept.status, kept.data, kept.error, answer.replayed)

    async def _release(self, tenant_id: str, record: str, request: IdempotentRequest) -> None:
        # Best effort (a database failure is logged): a claim not let go makes a retry wait
        # a moment for it, then go on without it.
        await self._records.release(tenant_id, record, request.fingerprint)


def _replayed(kept: StoredAnswer, request: IdempotentRequest) -> Answer:
    if kept.fingerprint != request.fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used for another request; use a new key for a new request.",
        )
    assert kept.status is not None, "only an answered key is replayed"
    return Answer(kept.status, kept.data, kept.error, replayed=True)
