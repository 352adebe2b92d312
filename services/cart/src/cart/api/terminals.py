"""Terminal API keys, managed with the admin token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from cart.api.deps import Resources
from cart.api.public import IssuedTerminal, TerminalPublic
from cart.api.schemas import TerminalCreate
from pos_commons.auth import require_admin
from pos_commons.envelope import Envelope, JsonResponse, ok
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter
from pos_commons.validation import TENANT_ID_REGEX

router = ServiceRouter(
    prefix="/api/v1/terminals",
    tags=["terminal"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(401, 403, 422, 503, 504),
)
TerminalIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.post(
    "",
    status_code=201,
    response_model=Envelope[IssuedTerminal],
    summary="Register a terminal; its API key is in the answer, and only there",
    responses=error_responses(
        400, 413, 409, s409="TERMINAL_EXISTS (details.terminalId: rotate its key instead)"
    ),
)
async def create_terminal(body: TerminalCreate, resources: Resources) -> JsonResponse:
    terminal, api_key = await resources.terminals.issue(
        body.tenant_id, body.store_code, body.terminal_no
    )
    return ok(IssuedTerminal.issued(terminal, api_key), status_code=201)


@router.post(
    "/{terminal_id}/rotate-key",
    response_model=Envelope[IssuedTerminal],
    summary="Replace a terminal's API key",
    responses=error_responses(404, s404="TERMINAL_NOT_FOUND"),
)
async def rotate_key(terminal_id: TerminalIdPath, resources: Resources) -> JsonResponse:
    terminal, api_key = await resources.terminals.rotate(terminal_id)
    return ok(IssuedTerminal.issued(terminal, api_key))


@router.get("", response_model=Envelope[list[TerminalPublic]], summary="List terminals")
async def list_terminals(
    resources: Resources,
    tenant_id: Annotated[str | None, Query(alias="tenantId", pattern=TENANT_ID_REGEX)] = None,
) -> JsonResponse:
    return ok(
        [TerminalPublic.of(terminal) for terminal in await resources.terminals.list(tenant_id)]
    )


@router.delete(
    "/{terminal_id}",
    status_code=204,
    summary="Revoke a terminal (its key stops working)",
    responses=error_responses(404, s404="TERMINAL_NOT_FOUND"),
)
async def delete_terminal(terminal_id: TerminalIdPath, resources: Resources) -> None:
    await resources.terminals.revoke(terminal_id)
