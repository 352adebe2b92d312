"""How a route that changes a cart answers: directly, or through Idempotency-Key.

Without the header a change is made and answered as always. With it, the call goes through
`Idempotency` (cart/services/idempotency.py): a retry gets the first answer again and
nothing happens twice. The key: 1 to 255 printable ASCII characters (a UUID is usual),
bare or as a quoted string (`"8e03978e-..."`, the IETF draft's form).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request, Security
from pydantic import BaseModel
from starlette.responses import Response

from cart.api.deps import TERMINAL_KEY_SCHEME, TerminalKey, resources_of
from cart.api.public import encoded_cart
from cart.domain.model import Cart
from cart.resources import CartResources
from cart.services.commands import CloseCommand, Command
from cart.services.idempotency import Answer, IdempotentRequest, fingerprint
from cart.storage.terminals import Terminal
from pos_commons.envelope import error_response, ok_encoded
from pos_commons.errors import UnprocessableError

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21\x23-\x7e]{1,255}")  # printable ASCII but the double quote

Call = Callable[[str | None], Awaitable[Cart]]


class InvalidIdempotencyKeyError(UnprocessableError):
    default_code = "INVALID_IDEMPOTENCY_KEY"


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKeyError(
            "An Idempotency-Key is 1 to 255 printable ASCII characters, such as a UUID."
        )
    return key


def _response(answer: Answer) -> Response:
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    if answer.data is not None:
        return ok_encoded(answer.data, status_code=answer.status, headers=headers)
    error = answer.error or {}
    return error_response(
        answer.status, error["code"], error["message"], error.get("details"), headers
    )


class CartChanges:
    """What every route that changes a cart depends on (as `Changes`): it makes the change
    and answers it."""

    def __init__(
        self, request: Request, terminal: Terminal, resources: CartResources, key: str | None
    ) -> None:
        self._request = request
        self._terminal = terminal
        self._resources = resources
        self.key = key

    async def start(self) -> Response:
        """A new cart of the terminal, answered 201; idempotent when a key came."""
        carts = self._resources.carts
        terminal = self._terminal
        return await self.answer(lambda key: carts.create(terminal, key), status=201)

    async def run(
        self, cart_id: str, command: Command | CloseCommand, *, body: BaseModel | None = None
    ) -> Response:
        """The cart after `command`, answered; idempotent when a key came."""
        carts = self._resources.carts
        terminal = self._terminal
        return await self.answer(
            lambda key: carts.change(terminal, cart_id, command, key), body=body
        )

    async def answer(
        self, call: Call, *, body: BaseModel | None = None, status: int = 200
    ) -> Response:
        """`call(key)`'s cart, answered (as `CartPublic`) with `status`; idempotent when a
        key came."""
        if self.key is None:
            return ok_encoded(encoded_cart(await call(None)), status_code=status)
        sent: Any = None if body is None else body.model_dump(mode="json", by_alias=True)
        request = IdempotentRequest(
            self.key, fingerprint(self._request.method, self._request.url.path, sent)
        )

        async def keyed(key: str) -> Cart:
            return await call(key)

        answer = await self._resources.idempotency.answer(
            self._terminal, request, status, keyed, encoded_cart
        )
        return _response(answer)


class TerminalChanges(TerminalKey):
    """What every route that changes a cart depends on (as `Changes`): the terminal key's
    scheme itself, resolving to the terminal's `CartChanges` with the Idempotency-Key that
    came. One dependency rather than one on top of the terminal's: FastAPI solves each level
    of a route's dependencies again on every request."""

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                description=(
                    "Makes the change safe to retry: the same key from this terminal with the "
                    "same request answers the first answer again (with Idempotent-Replayed: "
                    "true) and changes nothing; the same key with another request is refused "
                    "(422 IDEMPOTENCY_KEY_REUSED). 1 to 255 printable ASCII characters, e.g. "
                    "a UUID."
                ),
                examples=["8e03978e-40d5-43e8-bc93-6894a57f9324"],
                # Documented, not enforced here: _key() checks it and answers its own code.
                json_schema_extra={"pattern": '^"?[!#-~]{1,255}"?$', "maxLength": 257},
            ),
        ] = None,
    ) -> CartChanges:
        terminal = await super().__call__(request)
        return CartChanges(request, terminal, resources_of(request), _key(idempotency_key))


Changes = Annotated[CartChanges, Security(TerminalChanges(**TERMINAL_KEY_SCHEME))]
