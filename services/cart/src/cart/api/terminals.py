"""Terminal API keys, managed with the admin token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from cart.api.deps import Resources
from cart.api.schemas import TerminalCreate
from cart.storage.terminals import Terminal
from pos_commons.auth import require_admin
from pos_commons.envelope import Envelope, JsonResponse, ok
from pos_commons.validation import TENANT_ID_REGEX

router = APIRouter(
    prefix="/api/v1/terminals", tags=["terminal"], dependencies=[Depends(require_admin)]
)
TerminalIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _issued(terminal: Terminal, api_key: str) -> dict[str, object]:
    return {**terminal.model_dump(mode="json", by_alias=True), "apiKey": api_key}


@router.post(
    "",
    status_code=201,
    summary="Register a terminal; its API key is in the answer, and only there",
)
async def create_terminal(body: TerminalCreate, resources: Resources) -> JsonResponse:
    terminal, api_key = await resources.terminals.issue(
        body.tenant_id, body.store_code, body.terminal_no
    )
    return ok(_issued(terminal, api_key), status_code=201)


@router.post("/{terminal_id}/rotate-key", summary="Replace a terminal's API key")
async def rotate_key(terminal_id: TerminalIdPath, resources: Resources) -> JsonResponse:
    terminal, api_key = await resources.terminals.rotate(terminal_id)
    return ok(_issued(terminal, api_key))


@router.get("", response_model=Envelope[list[Terminal]], summary="List terminals")
async def list_terminals(
    resources: Resources,
    tenant_id: Annotated[str | None, Query(alias="tenantId", pattern=TENANT_ID_REGEX)] = None,
) -> JsonResponse:
    return ok(await resources.terminals.list(tenant_id))


@router.delete(
    "/{terminal_id}", status_code=204, summary="Revoke a terminal (its key stops working)"
)
async def delete_terminal(terminal_id: TerminalIdPath, resources: Resources) -> None:
    await resources.terminals.revoke(terminal_id)
