"""TLS and mutual TLS between cart and master-data, with certificates made at test time.

Two master-data processes beside the session's (same database, same demo catalog): one serves
TLS, one mutual TLS; each is called by a cart over HTTP and a cart over gRPC, and the parity
sale through the four must be the same sale. The mutual-TLS side is production-shaped too:
its tokens (and master-data's metrics token) come from files, not variables, and in
production the OpenAPI pages and an unguarded /metrics are gone.

Clients that must be refused are the libraries cart uses, pointed at the same servers: no
client certificate, one from another CA, a server certificate cart's CA did not issue,
plaintext against a TLS port.
"""

from __future__ import annotations

import functools
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import httpx
import pytest
import trustme
from grpc import aio

from cart.masterdata.failures import Failure, MasterDataError
from cart.masterdata.grpc_adapter import MasterDataChannel, health_status
from cart.masterdata.http_adapter import HttpSettings, fetch, open_session
from pos_commons.tls import ClientTls
from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess, MasterDataProcess, start_cart, start_master_data
from tests.pos_sale import assert_identical_sales, run_sales
from tests.support import Stack, TerminalNumbers, error_code

_SERVING = 1  # grpc.health.v1 HealthCheckResponse.SERVING
K = TypeVar("K")
P = TypeVar("P", MasterDataProcess, CartProcess)


@dataclass(frozen=True)
class Pki:
    """PEM files: our CA, master-data's and cart's certificates from it, and a stranger's
    certificate from another CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    stranger_cert: Path
    stranger_key: Path

    def client(self, *, certificate: bool = True) -> ClientTls:
        """How cart reaches master-data: our CA, with or without cart's certificate."""
        if certificate:
            return ClientTls(self.ca, self.client_cert, self.client_key)
        return ClientTls(self.ca)

    def reference_context(self) -> ssl.SSLContext:
        """What the tests themselves reach master-data with: built here with the standard
        library, so that a fault in pos_commons.tls shows in the tests, not in their set-up."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


def _write(directory: Path, name: str, ca: trustme.CA, *identities: str) -> tuple[Path, Path]:
    issued = ca.issue_cert(*identities)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, stranger = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    stranger.cert_pem.write_to_path(str(directory / "stranger-ca.crt"))
    server_cert, server_key = _write(directory, "master-data", ca, "127.0.0.1", "localhost")
    client_cert, client_key = _write(directory, "cart", ca, "cart")
    stranger_cert, stranger_key = _write(directory, "stranger", stranger, "127.0.0.1", "cart")
    return Pki(
        directory / "ca.crt", server_cert, server_key, client_cert, client_key,
        directory / "stranger-ca.crt", stranger_cert, stranger_key,
    )  # fmt: skip


@dataclass(frozen=True)
class TlsStack:
    master_data: MasterDataProcess
    carts: dict[Transport, CartProcess]
    """One per transport."""


@dataclass(frozen=True)
class TlsStacks:
    """Both TLS stacks: server TLS only, and mutual TLS."""

    tls: TlsStack
    mutual: TlsStack
    metrics_token: str


def _secret_files(
    directory: Path, admin_token: str, stack: Stack, metrics_token: str
) -> dict[str, str]:
    """Tokens as files (the variables themselves emptied: an empty one counts as unset); each
    service its own admin token."""
    directory.mkdir()
    values = {
        "ADMIN_TOKEN": admin_token,
        "SERVICE_TOKEN": stack.tokens.service,
        "METRICS_TOKEN": metrics_token,
    }
    env = {}
    for name, value in values.items():
        path = directory / name.lower()
        path.write_text(value + "\n")  # as `echo` writes it
        env[name] = ""
        env[f"{name}_FILE"] = str(path)
    return env


def _start_together(
    starts: Mapping[K, Callable[[], P]], started: list[MasterDataProcess | CartProcess]
) -> dict[K, P]:
    """Runs the starts in parallel (each waits for its process to answer); every process
    that did start goes into `started`, for the caller to stop, even when another failed."""
    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        futures = {key: pool.submit(start) for key, start in starts.items()}
        wait(futures.values())
    running = {key: f.result() for key, f in futures.items() if f.exception() is None}
    started.extend(running.values())
    for future in futures.values():
        if (error := future.exception()) is not None:
            raise error
    return running


@pytest.fixture(scope="module")
def tls_stacks(
    stack: Stack, demo: DemoCatalog, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsStacks]:
    del demo  # loaded into the shared database, which these processes read too
    metrics_token = "metrics-" + "m" * 40
    folder = tmp_path_factory.mktemp("secrets")
    server = {"TLS_CERT_FILE": str(pki.server_cert), "TLS_KEY_FILE": str(pki.server_key)}
    production = {
        "APP_ENV": "production",
        **_secret_files(folder / "master-data", stack.tokens.admin, stack, metrics_token),
    }
    cart_production = {
        "APP_ENV": "production",
        **_secret_files(folder / "cart", stack.tokens.cart_admin, stack, metrics_token),
    }
    flavours = {
        "tls": (server, {"MASTER_DATA_TLS_CA_FILE": str(pki.ca)}),
        "mutual": (
            {**server, "TLS_CLIENT_CA_FILE": str(pki.ca), **production},
            {
                "MASTER_DATA_TLS_CA_FILE": str(pki.ca),
                "MASTER_DATA_TLS_CERT_FILE": str(pki.client_cert),
                "MASTER_DATA_TLS_KEY_FILE": str(pki.client_key),
                **cart_production,
                "METRICS_TOKEN": "",
                "METRICS_TOKEN_FILE": "",
            },
        ),
    }
    started: list[MasterDataProcess | CartProcess] = []
    try:
        masters = _start_together(
            {
                name: functools.partial(
                    start_master_data,
                    stack.mongodb_uri,
                    stack.tokens,
                    log_dir=stack.log_dir,
                    extra_env=server_env,
                    name=f"master-data-{name}",
                    tls_client=pki.reference_context(),
                )
                for name, (server_env, _) in flavours.items()
            },
            started,
        )
        carts = _start_together(
            {
                (name, transport): functools.partial(
                    start_cart,
                    stack.mongodb_uri,
                    stack.tokens,
                    masters[name],
                    transport=transport,
                    log_dir=stack.log_dir,
                    extra_env=cart_env,
                    name=f"cart-{name}-{transport}",
                )
                for name, (_, cart_env) in flavours.items()
                for transport in Transport
            },
            started,
        )
        stacks = {
            name: TlsStack(
                masters[name],
                {transport: carts[(name, transport)] for transport in Transport},
            )
            for name in flavours
        }
        yield TlsStacks(stacks["tls"], stacks["mutual"], metrics_token)
    finally:
        if started:
            with ThreadPoolExecutor(max_workers=len(started)) as pool:
                list(pool.map(lambda running: running.process.stop(), started))


# --- the sale, over TLS and mutual TLS, on both transports ---------------------------------------


async def test_the_parity_sale_over_tls_and_mutual_tls_on_both_transports(
    stack: Stack, tls_stacks: TlsStacks, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> None:
    carts = {
        f"{name} {transport}": cart
        for name, tls_stack in (("tls", tls_stacks.tls), ("mutual", tls_stacks.mutual))
        for transport, cart in tls_stack.carts.items()
    }
    results = await run_sales(carts, stack.tokens.cart_admin, demo, terminal_numbers)
    assert_identical_sales(results, demo)
    for name, cart in carts.items():
        async with httpx.AsyncClient(base_url=cart.url, timeout=10) as client:
            health = (await client.get("/health")).json()["data"]
        assert health["masterData"] == "ok", name
        assert health["transport"] == name.split()[1], name
        # The catalog feed came over the same TLS (SSE over HTTPS, the gRPC channel).
        assert health["catalogFeed"]["live"] == 1, (name, health)


# --- who is refused -----------------------------------------------------------------------------


def _grpc_target(master_data: MasterDataProcess) -> str:
    return master_data.grpc_target


async def _grpc_health(target: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = MasterDataChannel(target, credentials)
    try:
        return await health_status(channel.pick(), deadline_seconds=5)
    finally:
        await channel.close()


async def _https_status(url: str, context: ssl.SSLContext) -> int:
    """GET /health through cart's own session to master-data (its TLS, its certificate)."""
    session = open_session(HttpSettings(ssl_context=context), {})
    try:
        status, _ = await fetch(session, f"{url}/health")
        return status
    finally:
        await session.close()


async def _refused(url: str, context: ssl.SSLContext) -> None:
    with pytest.raises(MasterDataError) as refused:
        await _https_status(url, context)
    assert refused.value.kind is Failure.UNAVAILABLE


async def test_http_presents_its_certificate_and_is_refused_without(
    tls_stacks: TlsStacks, pki: Pki
) -> None:
    url = tls_stacks.mutual.master_data.url
    assert url.startswith("https://")
    assert await _https_status(url, pki.client().ssl_context()) == 200
    stranger = ClientTls(pki.ca, pki.stranger_cert, pki.stranger_key).ssl_context()
    for context in (pki.client(certificate=False).ssl_context(), stranger):
        await _refused(url, context)


async def test_grpc_presents_its_certificate_and_is_refused_without(
    tls_stacks: TlsStacks, pki: Pki
) -> None:
    target = _grpc_target(tls_stacks.mutual.master_data)
    assert await _grpc_health(target, pki.client().grpc_credentials()) == _SERVING
    stranger = ClientTls(pki.ca, pki.stranger_cert, pki.stranger_key).grpc_credentials()
    for credentials in (pki.client(certificate=False).grpc_credentials(), stranger):
        with pytest.raises(aio.AioRpcError) as refused:
            await _grpc_health(target, credentials)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_clients_refuse_a_server_their_ca_did_not_issue(
    tls_stacks: TlsStacks, pki: Pki
) -> None:
    """cart's side of TLS: master-data's certificate is checked, not just encrypted to."""
    foreign = ClientTls(pki.stranger_ca)
    tls_only = tls_stacks.tls.master_data
    assert await _https_status(tls_only.url, pki.client().ssl_context()) == 200
    await _refused(tls_only.url, foreign.ssl_context())
    with pytest.raises(aio.AioRpcError) as refused:
        await _grpc_health(_grpc_target(tls_only), foreign.grpc_credentials())
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_tls_ports_speak_no_plaintext(tls_stacks: TlsStacks) -> None:
    master_data = tls_stacks.tls.master_data
    plain_url = master_data.url.replace("https://", "http://")
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(f"{plain_url}/health")
    with pytest.raises(aio.AioRpcError) as refused:
        await _grpc_health(_grpc_target(master_data), None)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


# --- production: pages closed, /metrics guarded, secrets read from files ------------------------


async def test_production_closes_the_pages_and_guards_metrics(
    tls_stacks: TlsStacks, pki: Pki
) -> None:
    master_data = tls_stacks.mutual.master_data
    cart = tls_stacks.mutual.carts[Transport.HTTP]
    context = pki.reference_context()
    async with httpx.AsyncClient(base_url=master_data.url, verify=context, timeout=10) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert error_code(await client.get(path), 404) == "ROUTE_NOT_FOUND", path
        assert error_code(await client.get("/metrics"), 401) == "AUTH_REQUIRED"
        wrong = {"Authorization": f"Bearer {tls_stacks.metrics_token}x"}
        assert error_code(await client.get("/metrics", headers=wrong), 401) == "INVALID_TOKEN"
        right = {"Authorization": f"Bearer {tls_stacks.metrics_token}"}
        metrics = await client.get("/metrics", headers=right)
        assert metrics.status_code == 200
        assert "http_request_duration_seconds" in metrics.text
    async with httpx.AsyncClient(base_url=cart.url, timeout=10) as client:
        # No METRICS_TOKEN in production: /metrics is as absent as a route that is not there.
        assert error_code(await client.get("/metrics"), 404) == "ROUTE_NOT_FOUND"
        assert error_code(await client.get("/docs"), 404) == "ROUTE_NOT_FOUND"


async def test_development_serves_the_pages_and_open_metrics(tls_stacks: TlsStacks) -> None:
    cart = tls_stacks.tls.carts[Transport.HTTP]
    async with httpx.AsyncClient(base_url=cart.url, timeout=10) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await client.get(path)).status_code == 200, path


# --- the containers' health check follows the service's TLS settings ----------------------------


def _healthcheck(port: int, environment: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pos_commons.healthcheck", "/health", "PORT", "1"]
    environment = {"PATH": "/usr/bin:/bin", "PORT": str(port), **environment}
    return subprocess.run(command, env=environment, timeout=30, check=False).returncode


def test_the_health_check_speaks_tls_and_presents_the_service_certificate(
    tls_stacks: TlsStacks, pki: Pki
) -> None:
    server = {"TLS_CERT_FILE": str(pki.server_cert), "TLS_KEY_FILE": str(pki.server_key)}
    mutual = {**server, "TLS_CLIENT_CA_FILE": str(pki.ca)}
    tls_port = tls_stacks.tls.master_data.http_port
    mutual_port = tls_stacks.mutual.master_data.http_port
    assert _healthcheck(tls_port, server) == 0
    assert _healthcheck(mutual_port, mutual) == 0
    assert _healthcheck(tls_port, {}) != 0  # plaintext against TLS
    assert _healthcheck(mutual_port, server) != 0  # no certificate under mutual TLS
