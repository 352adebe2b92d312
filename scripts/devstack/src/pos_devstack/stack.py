"""Starting the pieces of the system as local processes, the same way for every caller."""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pos_cli import operations
from pos_cli.client import AdminClient
from pydantic import SecretStr

from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK, ManagedProcess, free_port, python_module

SECANTUS_COMMAND = "secantusd-py"


def secantus_uri(port: int) -> str:
    # With retryable writes on, SecantusDB slows down past a few thousand writes.
    return f"mongodb://{LOOPBACK}:{port}/?retryWrites=false"


SYNC_ON_COMMIT = "--sync-on-commit"
"""SecantusDB fsyncs its log on every commit: without it, a killed SecantusDB can lose writes
it acknowledged (scripts/db_kill_drill.sh). What it costs: docs/performance.md."""


def start_secantus(
    storage: Path | str,
    port: int | None = None,
    log_dir: Path | None = None,
    extra_args: Sequence[str] = (),
) -> tuple[ManagedProcess, str]:
    """Starts SecantusDB (":memory:" or a folder), with `extra_args` (secantusd-py --help);
    returns the process and its MongoDB URI."""
    port = port or free_port()
    beside_python = Path(sys.executable).parent / SECANTUS_COMMAND
    executable = str(beside_python) if beside_python.exists() else shutil.which(SECANTUS_COMMAND)
    if executable is None:
        raise FileNotFoundError(f"{SECANTUS_COMMAND} not found; run scripts/setup.sh")
    if isinstance(storage, Path):
        storage.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "secantusdb",
        [
            executable,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
            *extra_args,
        ],
        env={},
        log_path=log_dir / "secantusdb.log" if log_dir else None,
    ).start()
    process.wait_for_port(port, timeout=60)
    return process, secantus_uri(port)


TOKEN_NAMES = {"admin": "ADMIN_TOKEN", "service": "SERVICE_TOKEN", "cart_admin": "CART_ADMIN_TOKEN"}
"""Each token and its name in the dev tokens file (and the dev stack's environment)."""


@dataclass(frozen=True)
class Tokens:
    """The tokens of one running pair. `admin` is master-data's admin token (catalog writes),
    `cart_admin` cart's own (terminal keys): each service gets only its own as ADMIN_TOKEN, so
    cart could not write master-data's catalog. `service` is what cart presents to
    master-data (and a reader's token on both)."""

    admin: str
    service: str
    cart_admin: str

    @classmethod
    def generate(cls) -> Tokens:
        return cls(**{name: secrets.token_urlsafe(32) for name in TOKEN_NAMES})

    @classmethod
    def load_or_create(cls, path: Path) -> Tokens:
        """Development tokens kept in a file, so restarts keep working with printed tokens.
        A token the file lacks (a file from before cart had its own) is generated and added;
        the ones it has are kept."""
        values: dict[str, str] = {}
        if path.exists():
            values = dict(
                line.split("=", 1) for line in path.read_text().splitlines() if "=" in line
            )
        kept = {name: values.get(variable, "") for name, variable in TOKEN_NAMES.items()}
        if all(kept.values()):
            return cls(**kept)
        tokens = cls(**{name: value or secrets.token_urlsafe(32) for name, value in kept.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "".join(
                f"{variable}={getattr(tokens, name)}\n" for name, variable in TOKEN_NAMES.items()
            )
        )
        path.chmod(0o600)
        return tokens


@dataclass
class MasterDataProcess:
    process: ManagedProcess
    http_port: int
    grpc_port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"


def start_master_data(
    mongodb_uri: str,
    tokens: Tokens,
    *,
    http_port: int | None = None,
    grpc_port: int | None = None,
    log_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    name: str = "master-data",
    tls_client: ssl.SSLContext | None = None,
) -> MasterDataProcess:
    """master-data with HTTP and gRPC, waiting until both answer. With `tls_client` it
    serves TLS (its TLS_* settings are in `extra_env`) and `tls_client` is how to reach it."""
    http_port = http_port or free_port()
    grpc_port = grpc_port or free_port()
    env = {
        "MONGODB_URI": mongodb_uri,
        # Stop at once when told to (tests, Ctrl-C); a test of the drain sets its own.
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "USE_GRPC": "true",
        "BIND_HOST": LOOPBACK,
        "MASTER_DATA_HTTP_PORT": str(http_port),
        "GRPC_PORT": str(grpc_port),
        "ADMIN_TOKEN": tokens.admin,
        "SERVICE_TOKEN": tokens.service,
        "LOG_FORMAT": "text",
        **(extra_env or {}),
    }
    process = ManagedProcess(
        name,
        python_module("master_data"),
        env,
        log_path=log_dir / f"{name}.log" if log_dir else None,
    ).start()
    running = MasterDataProcess(
        process, http_port, grpc_port, "http" if tls_client is None else "https"
    )
    process.wait_for_http(f"{running.url}/health", timeout=60, verify=tls_client or True)
    if env["USE_GRPC"] == "true":
        process.wait_for_port(grpc_port)
    return running


@dataclass
class CartProcess:
    process: ManagedProcess
    http_port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"


def start_cart(
    mongodb_uri: str,
    tokens: Tokens,
    master_data: MasterDataProcess,
    *,
    transport: Transport,
    http_port: int | None = None,
    log_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    name: str = "cart",
    import_paths: Sequence[Path] = (),
    module: str = "cart",
) -> CartProcess:
    """cart, waiting until it answers. `import_paths` go first on its PYTHONPATH: cart and the
    code it imports from there (another checkout's), the installed packages after them.
    `module` is what runs (`python -m`): cart, or a stand-in that reads the same settings (the
    floor bench's bare cart, pos_loadtest.benches.floor.bare_cart)."""
    http_port = http_port or free_port()
    env = {
        "MONGODB_URI": mongodb_uri,
        "SHUTDOWN_DRAIN_SECONDS": "0",
        **transport.cart_env(),
        "BIND_HOST": LOOPBACK,
        "CART_HTTP_PORT": str(http_port),
        "MASTER_DATA_URL": master_data.url,
        "MASTER_DATA_GRPC_TARGET": master_data.grpc_target,
        # cart's own admin token (terminal keys), never master-data's.
        "ADMIN_TOKEN": tokens.cart_admin,
        "SERVICE_TOKEN": tokens.service,
        "LOG_FORMAT": "text",
        **(extra_env or {}),
    }
    if import_paths:
        env["PYTHONPATH"] = pythonpath_first(import_paths)
    process = ManagedProcess(
        name,
        python_module(module),
        env,
        log_path=log_dir / f"{name}.log" if log_dir else None,
    ).start()
    running = CartProcess(process, http_port, env)
    process.wait_for_http(f"{running.url}/health", timeout=60)
    return running


def pythonpath_first(paths: Sequence[Path]) -> str:
    """A PYTHONPATH with `paths` ahead of whatever this process was given."""
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([*map(str, paths), *([inherited] if inherited else [])])


def key_works(cart_url: str, api_key: str) -> bool:
    """Whether cart accepts `api_key` (a receipt number nobody has: 404 if it does, 401 not)."""
    with httpx.Client(base_url=cart_url, timeout=10) as client:
        response = client.get("/api/v1/transactions/2147483647", headers={"X-API-Key": api_key})
    return response.status_code != 401


def terminal_key(
    cart_url: str, cart_admin_token: str, tenant_id: str, store_code: str, terminal_no: int
) -> str:
    """An API key for the terminal, through posctl's own code: registers it, or rotates its
    key if it exists already."""
    with AdminClient("cart", cart_url, SecretStr(cart_admin_token), "CART_ADMIN_TOKEN", 10) as cart:
        return operations.terminal_key(cart, tenant_id, store_code, terminal_no)
