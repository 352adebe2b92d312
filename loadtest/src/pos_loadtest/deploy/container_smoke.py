"""The compose deployment end to end, in real containers: what tests/deploy checks offline,
run for real on a machine with a container engine.

    scripts/container_smoke.sh [--keep] [--terminals 4] [--load-seconds 20]

1. builds both images, makes secrets into a temporary folder, brings docker-compose.prod.yaml
   up under a project name of its own (cart on a free loopback port);
2. loads the demo catalog, registers a terminal, runs a whole sale over HTTP; flips USE_GRPC
   (`up -d`, as docs/deploy.md says) and runs the same sale over gRPC: same totals;
3. scales master-data to 3, restarts cart (its channel resolves all three at once), makes
   lookups and checks from each replica's metrics that every one of them served gRPC calls;
4. restarts one master-data replica (SIGTERM: drain, graceful stop) under a steady sales load
   and counts the cart calls that failed (none may);
5. tears everything down (`down -v`: containers, network, volumes), on failure too.

Exit 0 when every step held. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from pos_commons.transport import Transport
from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import free_port
from pos_devstack.seed import DEMO_STORE, DemoCatalog, load_demo_catalog
from pos_loadtest.drills.sales_load import DrillResult, SalesLoad

COMPOSE = REPO_ROOT / "scripts" / "compose.sh"
SALE = ({"itemCode": "ITEM0001", "quantity": 2}, {"itemCode": "ITEM0007"}, {"itemCode": "ITEM0010"})
# master-data's count of item lookups answered over gRPC (one per sale: a batch of its items).
ITEM_LOOKUPS = ("grpc_server_handled_total{", 'method="BatchGetItemDetails"')


class SmokeError(RuntimeError):
    """A step did not hold."""


@dataclass
class ComposeStack:
    """One compose project: its environment, and how to run compose and docker on it."""

    environment: dict[str, str]
    secrets: Path

    def compose(self, *arguments: str, timeout: float = 900) -> str:
        result = subprocess.run(
            ["bash", str(COMPOSE), *arguments],
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise SmokeError(f"compose {' '.join(arguments)}:\n{result.stderr[-3000:]}")
        return result.stdout

    def up(self, **settings: str) -> None:
        self.environment.update(settings)
        self.compose("up", "-d")

    @property
    def cart_url(self) -> str:
        return f"http://127.0.0.1:{self.environment['CART_HTTP_PORT']}"

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    def master_data_urls(self) -> list[str]:
        """Each master-data replica's published HTTP port (host loopback)."""
        ids = self.compose("ps", "-q", "master-data").split()
        urls = []
        for index in range(1, len(ids) + 1):
            address = self.compose("port", "--index", str(index), "master-data", "8002").strip()
            urls.append(f"http://{address}")
        return urls

    def container_ids(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()


def _docker(*arguments: str, timeout: float = 120) -> str:
    result = subprocess.run(
        ["docker", *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SmokeError(f"docker {' '.join(arguments)}: {result.stderr.strip()}")
    return result.stdout


async def _until(what: str, check: Callable[[], Awaitable[bool]], within: float) -> None:
    """Polls `check` until it answers true, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError, SmokeError):
            if await check():
                return
        await asyncio.sleep(1)
    raise SmokeError(f"not {what} within {within:.0f}s")


async def _cart_ready(stack: ComposeStack, transport: str) -> None:
    async def ready() -> bool:
        async with httpx.AsyncClient(timeout=3) as client:
            if (await client.get(f"{stack.cart_url}/ready")).status_code != 200:
                return False
            health = (await client.get(f"{stack.cart_url}/health")).json()["data"]
        return bool(health["transport"] == transport and health["masterData"] == "ok")

    await _until(f"ready over {transport}", ready, within=180)


async def _container_healthy(container: str) -> None:
    async def healthy() -> bool:
        status = _docker("inspect", "-f", "{{.State.Health.Status}}", container).strip()
        return status == "healthy"

    await _until(f"{container[:12]} healthy", healthy, within=180)


async def _sale(cart_url: str, api_key: str) -> dict[str, str]:
    """A whole sale; its totals."""
    headers = {"X-API-Key": api_key}
    async with httpx.AsyncClient(base_url=f"{cart_url}/api/v1", headers=headers, timeout=15) as c:

        async def call(method: str, path: str, body: object = None) -> Any:
            response = await c.request(method, path, json=body)
            if response.status_code >= 400:
                raise SmokeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json()["data"]

        cart = f"/carts/{(await call('POST', '/carts'))['cartId']}"
        await call("POST", f"{cart}/lineItems", list(SALE))
        paying = await call("POST", f"{cart}/subtotal")
        due = Decimal(paying["totals"]["balanceDue"])
        await call("POST", f"{cart}/payments", {"paymentCode": "CASH", "amount": str(due)})
        billed = await call("POST", f"{cart}/bill")
        if billed["state"] != "Completed":
            raise SmokeError(f"the sale ended {billed['state']}")
        return {str(key): str(value) for key, value in billed["totals"].items()}


async def _register_terminal(stack: ComposeStack, tenant: str, number: int) -> str:
    # cart's own admin token: master-data's (admin_token) is not mounted into cart.
    headers = {"Authorization": f"Bearer {stack.secret('cart_admin_token')}"}
    body = {"tenantId": tenant, "storeCode": DEMO_STORE, "terminalNo": number}
    async with httpx.AsyncClient(timeout=15, headers=headers) as client:
        response = await client.post(f"{stack.cart_url}/api/v1/terminals", json=body)
    if response.status_code != 201:
        raise SmokeError(f"terminal registration: {response.status_code} {response.text}")
    return str(response.json()["data"]["apiKey"])


async def _master_data_refuses_cart_tokens(stack: ComposeStack, tenant: str) -> None:
    """What cart holds (its admin token, the service token) cannot write master-data's
    catalog: 401 INVALID_TOKEN and 403 ADMIN_REQUIRED."""
    body = {"categoryCode": "SMOKE", "name": "never written"}
    url = f"{stack.master_data_urls()[0]}/api/v1/tenants/{tenant}/categories"
    expected = {
        "cart_admin_token": (401, "INVALID_TOKEN"),
        "service_token": (403, "ADMIN_REQUIRED"),
    }
    async with httpx.AsyncClient(timeout=15) as client:
        for secret, (status, code) in expected.items():
            headers = {"Authorization": f"Bearer {stack.secret(secret)}"}
            response = await client.post(url, json=body, headers=headers)
            answered = (response.status_code, response.json().get("error", {}).get("code"))
            if answered != (status, code):
                raise SmokeError(
                    f"master-data answered {secret} with {answered}, not {status} {code}"
                )


async def _grpc_calls_per_replica(stack: ComposeStack) -> list[float]:
    headers = {"Authorization": f"Bearer {stack.secret('metrics_token')}"}
    counts = []
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for url in stack.master_data_urls():
            text = (await client.get(f"{url}/metrics")).text
            counts.append(
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith(ITEM_LOOKUPS[0]) and ITEM_LOOKUPS[1] in line
                )
            )
    return counts


async def _spread(stack: ComposeStack, api_key: str, lookups: int) -> list[float]:
    """Three replicas: every one of them serves cart's gRPC lookups."""
    stack.compose("up", "-d", "--scale", "master-data=3")
    for container in stack.container_ids("master-data"):
        await _container_healthy(container)
    # A fresh channel resolves all three at once (else: within grpc.max_connection_age_ms).
    stack.compose("restart", "cart")
    await _cart_ready(stack, "grpc")
    before = await _grpc_calls_per_replica(stack)
    for _ in range(lookups):
        await _sale(stack.cart_url, api_key)
    after = await _grpc_calls_per_replica(stack)
    served = [b - a for a, b in zip(before, after, strict=True)]
    if len(served) != 3 or min(served) <= 0:
        raise SmokeError(f"gRPC calls per replica: {served} (each should serve some)")
    return served


async def _restart_under_load(
    stack: ComposeStack, catalog: DemoCatalog, keys: Sequence[str], load_seconds: float
) -> DrillResult:
    result = DrillResult(Transport.GRPC, restarts=1)
    load = SalesLoad(catalog.sellable_codes[:100], result)
    async with load.selling(stack.cart_url, keys):
        await asyncio.sleep(load_seconds / 2)
        victim = stack.container_ids("master-data")[0]
        await asyncio.to_thread(_docker, "restart", "-t", "30", victim, timeout=90)
        await _container_healthy(victim)
        await asyncio.sleep(load_seconds / 2)
    return result


async def smoke(options: argparse.Namespace, work: Path) -> list[str]:
    """Every step; returns what it saw, line by line."""
    report: list[str] = []
    stack = ComposeStack(
        {
            "COMPOSE_PROJECT_NAME": f"pos-smoke-{os.getpid()}",
            "POS_IMAGE_TAG": "smoke",
            "POS_SECRETS_DIR": str(work / "secrets"),
            "CART_PUBLISH_ADDRESS": "127.0.0.1",
            "CART_HTTP_PORT": str(free_port()),
            "MASTER_DATA_REPLICAS": "2",
            "USE_GRPC": "false",
        },
        work / "secrets",
    )
    stack.compose("init-secrets")
    try:
        stack.compose("build", timeout=1800)
        report.append("built pos-master-data:smoke and pos-cart:smoke")
        stack.up()
        await _cart_ready(stack, "http")
        catalog = await load_demo_catalog(stack.master_data_urls()[0], stack.secret("admin_token"))
        await _master_data_refuses_cart_tokens(stack, catalog.tenant_id)
        report.append("master-data's admin API refuses cart's admin and service tokens")
        keys = [
            await _register_terminal(stack, catalog.tenant_id, n)
            for n in range(1, options.terminals + 2)
        ]
        http_totals = await _sale(stack.cart_url, keys[0])
        report.append(f"sale over http: total {http_totals['totalAmount']}")

        stack.up(USE_GRPC="true")
        await _cart_ready(stack, "grpc")
        grpc_totals = await _sale(stack.cart_url, keys[0])
        report.append(f"sale over grpc: total {grpc_totals['totalAmount']}")
        if grpc_totals != http_totals:
            raise SmokeError(f"the transports disagree: {http_totals} != {grpc_totals}")

        served = await _spread(stack, keys[0], options.spread_sales)
        report.append(f"3 replicas, gRPC lookups served each: {served}")

        drill = await _restart_under_load(stack, catalog, keys[1:], options.load_seconds)
        report.append(drill.summary())
        if drill.failed or not drill.sales:
            raise SmokeError(f"restart under load: {drill.summary()}")
        return report
    finally:
        if options.keep:
            project = stack.environment["COMPOSE_PROJECT_NAME"]
            report.append(f"kept up: COMPOSE_PROJECT_NAME={project}")
        else:
            with suppress(SmokeError, subprocess.TimeoutExpired):
                stack.compose("down", "-v", "--remove-orphans", timeout=300)


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-container-smoke",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--terminals", type=int, default=4, help="terminals of the load")
    parser.add_argument("--load-seconds", type=float, default=20.0, help="load around a restart")
    parser.add_argument("--spread-sales", type=int, default=12, help="sales to check the spread")
    parser.add_argument("--keep", action="store_true", help="leave the deployment up")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = _options(argv)
    with tempfile.TemporaryDirectory(prefix="container-smoke-") as folder:
        try:
            report = asyncio.run(smoke(options, Path(folder)))
        except SmokeError as failure:
            print(f"container smoke FAILED: {failure}", file=sys.stderr)
            return 1
    print("\n".join(report))
    print("container smoke passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
