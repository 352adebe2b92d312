"""Contract fuzzing with schemathesis against both running services, bounded (a fixed seed, a
few examples per operation): no server error, no answer outside the documented statuses,
every answer matching its documented schema and content type.

The services here are this module's own, on a database of their own: the admin operations
create, change and delete what the fuzzer likes (tenants, items, terminals and their keys).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pos_commons.transport import Transport
from pos_devstack.openapi import path_of
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
    terminal_key,
)

SEED = "20261122"
EXAMPLES = "15"
CHECKS = (
    "not_a_server_error,status_code_conformance,response_schema_conformance,"
    "content_type_conformance"
)


@dataclass
class Targets:
    database: ManagedProcess
    master: MasterDataProcess
    cart: CartProcess
    tokens: Tokens
    terminal_key: str
    config: Path


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    work = tmp_path_factory.mktemp("fuzzing")
    tokens = Tokens.generate()
    database, uri = start_secantus(":memory:", log_dir=work)
    master = start_master_data(uri, tokens, log_dir=work)
    cart = start_cart(uri, tokens, master, transport=Transport.HTTP, log_dir=work)
    import asyncio

    asyncio.run(load_demo_catalog(master.url, tokens.admin, demo_catalog(20)))
    key = terminal_key(cart.url, tokens.cart_admin, "demo", "S001", 1)
    config = work / "schemathesis.toml"
    # Real identifiers, so requests get past "no such tenant" to the rules behind it.
    config.write_text('[parameters]\ntenant_id = "demo"\nstore_code = "S001"\n')
    yield Targets(database, master, cart, tokens, key, config)
    cart.process.stop()
    master.process.stop()
    database.stop()


def _fuzz(targets: Targets, service: str, url: str, *arguments: str) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "--config-file", str(targets.config), "run", str(path_of(service)),
         "--url", url, "--checks", CHECKS, "--max-examples", EXAMPLES, "--seed", SEED,
         "--no-color", *arguments],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    # Generated values can be long: only the start of each line of the report.
    report = "\n".join(line[:300] for line in result.stdout.splitlines()[-80:])
    assert result.returncode == 0, report + result.stderr[-2000:]


def test_cart_terminal_operations(targets: Targets) -> None:
    _fuzz(
        targets, "cart", targets.cart.url,
        "--include-tag", "cart", "-H", f"X-API-Key: {targets.terminal_key}",
    )  # fmt: skip


def test_cart_admin_and_system_operations(targets: Targets) -> None:
    _fuzz(
        targets, "cart", targets.cart.url,
        "--exclude-tag", "cart", "-H", f"Authorization: Bearer {targets.tokens.cart_admin}",
    )  # fmt: skip


def test_master_data_operations(targets: Targets) -> None:
    # Not the catalog feed: a stream that answers stays open (its refusals and its messages
    # are tested in tests/master_data/test_catalog_feed.py).
    _fuzz(
        targets, "master-data", targets.master.url,
        "-H", f"Authorization: Bearer {targets.tokens.admin}",
        "--exclude-operation-id", "watch_catalog",
    )  # fmt: skip


def test_no_server_error_was_logged(targets: Targets) -> None:
    """What the fuzzing sent left no traceback in either service's log."""
    for process in (targets.cart.process, targets.master.process):
        log = process.log_tail(100_000)
        assert "Traceback" not in log, log[-3000:]
        assert "INTERNAL_ERROR" not in log, log[-3000:]
