"""``python -m pos_devstack.cli up``: the whole system in the foreground, until Ctrl-C.

Reads the documented settings from the environment (MONGODB_URI, USE_GRPC, ports, tokens:
ADMIN_TOKEN is master-data's, CART_ADMIN_TOKEN cart's, SERVICE_TOKEN the one cart presents).
Without MONGODB_URI it runs an embedded SecantusDB keeping its data under .data/.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from pos_commons.transport import Transport
from pos_devstack.paths import DATA_DIR
from pos_devstack.processes import ManagedProcess, port_open
from pos_devstack.seed import DEMO_STORE, load_demo_catalog
from pos_devstack.stack import (
    SYNC_ON_COMMIT,
    TOKEN_NAMES,
    Tokens,
    key_works,
    start_cart,
    start_master_data,
    start_secantus,
    terminal_key,
)

DEMO_TERMINAL = 1
DEMO_KEY_FILE = DATA_DIR / "demo-terminal.key"


def _env_port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class Running:
    processes: list[ManagedProcess] = field(default_factory=list)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.running():
                print(f"stopping {process.name} (pid {process.pid})", flush=True)
            process.stop()


def _tokens() -> Tokens:
    """The kept development tokens, each replaced by its variable (ADMIN_TOKEN: master-data's,
    CART_ADMIN_TOKEN: cart's, SERVICE_TOKEN) when that is set."""
    kept = Tokens.load_or_create(DATA_DIR / "dev-tokens.env")
    given = {name: os.environ.get(variable) for name, variable in TOKEN_NAMES.items()}
    return dataclasses.replace(kept, **{name: value for name, value in given.items() if value})


def _demo_key(cart_url: str, tokens: Tokens, tenant_id: str) -> str:
    """The demo terminal's key: the one kept from the last run while cart still accepts it (a
    KEY saved in a shell keeps working across restarts), else a new one, kept."""
    if DEMO_KEY_FILE.exists():
        kept = DEMO_KEY_FILE.read_text().strip()
        if kept and key_works(cart_url, kept):
            return kept
    api_key = terminal_key(cart_url, tokens.cart_admin, tenant_id, DEMO_STORE, DEMO_TERMINAL)
    DEMO_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_KEY_FILE.write_text(api_key + "\n")
    DEMO_KEY_FILE.chmod(0o600)
    return api_key


def _check_free(port: int, setting: str) -> None:
    if port_open(port):
        raise SystemExit(f"port {port} ({setting}) is in use; set {setting} to another port")


def up(options: argparse.Namespace) -> int:
    running = Running()

    def on_signal(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    tokens = _tokens()
    http_port = _env_port("MASTER_DATA_HTTP_PORT", 8002)
    grpc_port = _env_port("GRPC_PORT", 50051)
    cart_port = _env_port("CART_HTTP_PORT", 8003)
    transport = Transport.from_flag(
        os.environ.get("USE_GRPC", "false").lower() in ("1", "true", "yes", "on")
    )
    try:
        _check_free(http_port, "MASTER_DATA_HTTP_PORT")
        _check_free(grpc_port, "GRPC_PORT")
        _check_free(cart_port, "CART_HTTP_PORT")
        uri = os.environ.get("MONGODB_URI")
        if not uri:
            database, uri = start_secantus(
                DATA_DIR / "secantus", port=options.db_port, extra_args=(SYNC_ON_COMMIT,)
            )
            running.processes.append(database)
            print(f"SecantusDB (embedded) at {uri}, data in {DATA_DIR / 'secantus'}", flush=True)
        master = start_master_data(uri, tokens, http_port=http_port, grpc_port=grpc_port)
        running.processes.append(master.process)
        catalog = asyncio.run(load_demo_catalog(master.url, tokens.admin))
        # Every other setting (USE_ITEM_CACHE, timeouts...) reaches cart from this environment.
        cart = start_cart(uri, tokens, master, transport=transport, http_port=cart_port)
        running.processes.append(cart.process)
        api_key = _demo_key(cart.url, tokens, catalog.tenant_id)
        print(
            "\n".join(
                [
                    "",
                    "=" * 72,
                    f"master-data HTTP  {master.url}  (OpenAPI: {master.url}/docs)",
                    f"master-data gRPC  {master.grpc_target}  (reflection on)",
                    f"demo catalog      tenant {catalog.tenant_id!r}, stores "
                    f"{', '.join(catalog.stores)}, {len(catalog.items)} items",
                    f"cart HTTP         {cart.url}  (OpenAPI: {cart.url}/docs)",
                    f"  master data via {transport.name} "
                    f"(USE_GRPC={transport.cart_env()['USE_GRPC']})",
                    "tokens            (Authorization: Bearer <token>)",
                    f"ADMIN_TOKEN       {tokens.admin}",
                    "  master-data's admin API: catalog writes",
                    f"CART_ADMIN_TOKEN  {tokens.cart_admin}",
                    "  cart's admin API: terminal keys",
                    f"SERVICE_TOKEN     {tokens.service}",
                    "  what cart presents to master-data (reads)",
                    f"demo terminal     tenant {catalog.tenant_id}, store {DEMO_STORE}, "
                    f"terminal {DEMO_TERMINAL}",
                    f"  X-API-Key       {api_key}",
                    "Ctrl-C stops everything.",
                    "=" * 72,
                ]
            ),
            flush=True,
        )
        while all(process.running() for process in running.processes):
            time.sleep(0.5)
        dead = [p.name for p in running.processes if not p.running()]
        print(f"{', '.join(dead)} exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        running.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="run the services in the foreground")
    up_parser.add_argument(
        "--db-port", type=int, default=_env_port("SECANTUS_PORT", 27018),
        help="port of the embedded SecantusDB (default 27018, or SECANTUS_PORT)",
    )  # fmt: skip
    options = parser.parse_args(argv)
    if options.command == "up":
        return up(options)
    return 2


if __name__ == "__main__":
    sys.exit(main())
