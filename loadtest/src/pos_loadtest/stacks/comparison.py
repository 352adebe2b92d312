"""The system a load runs against, set up the same way for the comparison and the profiler:
the database (embedded SecantusDB unless MONGODB_URI is set), master-data serving HTTP and
gRPC, the demo catalog, one terminal key per locust user; cart is started per run.

Every process started here is stopped when the `running_stack` block ends, however it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import DEMO_STORE, DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
)
from pos_loadtest.comparison.modes import Mode


@dataclass
class ComparisonStack:
    """The comparison's stack: the database, master-data and what a run needs to start cart and
    locust against them (cart itself is started per run, by `cart`)."""

    work: Path
    tokens: Tokens
    uri: str
    database: ManagedProcess | None
    """The embedded database's process; None behind MONGODB_URI."""
    master: MasterDataProcess
    tenant_id: str
    items_file: Path
    keys_file: Path
    item_count: int
    code_of_ref: dict[str, list[Path]] = field(default_factory=dict)
    """Folders put first on PYTHONPATH for modes of older code, by ref (older_ref.py)."""
    catalog: DemoCatalog | None = None
    """What master-data was loaded with (the load scans its first `item_count` sellable items)."""

    @property
    def embedded(self) -> bool:
        return self.database is not None

    def database_description(self) -> str:
        if self.embedded:
            return f"SecantusDB {version('secantusdb')} (embedded, in memory)"
        return "MongoDB at MONGODB_URI (credentials not recorded)"

    @contextmanager
    def cart(self, mode: Mode, name: str, http_port: int | None = None) -> Iterator[CartProcess]:
        """cart configured for `mode`, stopped when the block ends."""
        paths: Sequence[Path] = self.code_of_ref[mode.code_ref] if mode.code_ref else ()
        cart = start_cart(
            self.uri, self.tokens, self.master, transport=mode.transport, http_port=http_port,
            log_dir=self.work, extra_env=mode.cart_env(), name=name, import_paths=paths,
        )  # fmt: skip
        try:
            yield cart
        finally:
            cart.process.stop()


def issue_keys(cart_url: str, cart_admin_token: str, tenant_id: str, terminals: int) -> list[str]:
    """A fresh API key for each terminal 1..`terminals` of the store."""
    keys = []
    headers = {"Authorization": f"Bearer {cart_admin_token}"}
    with httpx.Client(base_url=cart_url, headers=headers, timeout=30) as client:
        for terminal_no in range(1, terminals + 1):
            body = {"tenantId": tenant_id, "storeCode": DEMO_STORE, "terminalNo": terminal_no}
            response = client.post("/api/v1/terminals", json=body)
            if response.status_code == 409:
                terminal_id = response.json()["error"]["details"]["terminalId"]
                response = client.post(f"/api/v1/terminals/{terminal_id}/rotate-key")
            response.raise_for_status()
            keys.append(response.json()["data"]["apiKey"])
    return keys


@contextmanager
def running_stack(work: Path, *, terminals: int, catalog_size: int) -> Iterator[ComparisonStack]:
    processes: list[ManagedProcess] = []
    tokens = Tokens.generate()
    try:
        uri = os.environ.get("MONGODB_URI")
        database: ManagedProcess | None = None
        if not uri:
            database, uri = start_secantus(":memory:", log_dir=work)
            processes.append(database)
        master = start_master_data(uri, tokens, log_dir=work)
        processes.append(master.process)
        catalog = demo_catalog()
        asyncio.run(load_demo_catalog(master.url, tokens.admin, catalog))
        items = catalog.sellable_codes[:catalog_size]
        items_file = work / "items.json"
        items_file.write_text(json.dumps(items))
        issuer = start_cart(
            uri, tokens, master, transport=Transport.HTTP, log_dir=work, name="cart-keys"
        )
        processes.append(issuer.process)
        keys = issue_keys(issuer.url, tokens.cart_admin, catalog.tenant_id, terminals)
        issuer.process.stop()
        keys_file = work / "keys.json"
        keys_file.write_text(json.dumps(keys))
        yield ComparisonStack(
            work, tokens, uri, database, master, catalog.tenant_id, items_file, keys_file,
            len(items), catalog=catalog,
        )  # fmt: skip
    finally:
        for process in reversed(processes):
            process.stop()
