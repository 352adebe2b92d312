"""What posctl does, as functions a program can call too (the dev stack seeds its demo
catalog and terminal with them): each one call, or a few, to a service's admin API."""

from __future__ import annotations

from typing import Any

from pos_cli.client import AdminClient, CliError


def create_tenant(
    master_data: AdminClient, tenant_id: str, name: str, *, exist_ok: bool = False
) -> Any:
    body = {"tenantId": tenant_id, "name": name}
    return _created(master_data, "/api/v1/tenants", body, "TENANT_EXISTS", exist_ok)


def add_store(
    master_data: AdminClient, tenant_id: str, store_code: str, name: str, *, exist_ok: bool = False
) -> Any:
    body = {"storeCode": store_code, "name": name}
    path = f"/api/v1/tenants/{tenant_id}/stores"
    return _created(master_data, path, body, "STORE_EXISTS", exist_ok)


def register_terminal(cart: AdminClient, tenant_id: str, store_code: str, terminal_no: int) -> Any:
    """The terminal with its API key (shown this once)."""
    body = {"tenantId": tenant_id, "storeCode": store_code, "terminalNo": terminal_no}
    return cart.call("POST", "/api/v1/terminals", json=body)


def rotate_key(cart: AdminClient, terminal_id: str) -> Any:
    return cart.call("POST", f"/api/v1/terminals/{terminal_id}/rotate-key")


def terminal_key(cart: AdminClient, tenant_id: str, store_code: str, terminal_no: int) -> str:
    """An API key for the terminal: registers it, or rotates its key if it exists already."""
    try:
        issued = register_terminal(cart, tenant_id, store_code, terminal_no)
    except CliError as exc:
        if exc.code != "TERMINAL_EXISTS":
            raise
        issued = rotate_key(cart, exc.details["terminalId"])
    return str(issued["apiKey"])


def _created(
    client: AdminClient, path: str, body: dict[str, Any], exists: str, exist_ok: bool
) -> Any:
    try:
        return client.call("POST", path, json=body)
    except CliError as exc:
        if not (exist_ok and exc.code == exists):
            raise
        return None
