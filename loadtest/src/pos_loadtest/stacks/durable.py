"""A stack whose database keeps its data on disk: SecantusDB on a data directory (not
":memory:"), so it can be killed and started again on the same data, as a store runs it, with
master-data, the demo catalog, one cart and its terminals' keys.

Used by the database-kill drill (drills/db_kill.py) and the cost of a durable database
(benches/durability.py). Every process started here is stopped when the `durable_stack` block
ends, however it ends; the database is killed only by its own PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess, free_port, wait_for_status
from pos_devstack.seed import DEMO_STORE, demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    pythonpath_first,
    start_cart,
    start_master_data,
    start_secantus,
    terminal_key,
)
from pos_loadtest.drills.sales_load import DrillResult, SalesLoad
from pos_loadtest.probes.cpu import CpuProbe, per_request_ms
from pos_loadtest.stacks import older_ref

MASTER_DATA_FOLDERS = ("services/master-data/src", "services/commons/src")
"""What master-data imports from another checkout (`code`): itself and the commons."""


@dataclass
class DurableStack:
    work: Path
    data_dir: Path
    port: int
    database_args: tuple[str, ...]
    database: ManagedProcess
    uri: str
    master: MasterDataProcess
    cart: CartProcess
    tenant_id: str
    codes: list[str]
    """The items the terminals sell."""
    terminal_nos: list[int]
    keys: list[str]
    """One API key per terminal, in the order of `terminal_nos`."""

    def kill_database(self) -> None:
        """SIGKILL: no shutdown, no checkpoint, no flush; what a power cut is to the process
        (not to the disk: what the database wrote reaches the disk's cache)."""
        os.kill(self.database.pid, signal.SIGKILL)
        self.database.stop()  # reaps it and closes its log

    def start_database(self) -> None:
        """On the same data directory and port (cart's URI does not change)."""
        self.database, uri = start_secantus(
            self.data_dir, port=self.port, log_dir=self.work, extra_args=self.database_args
        )
        assert uri == self.uri

    async def cart_ready(self, within: float = 120.0) -> None:
        await wait_for_status(f"{self.cart.url}/ready", 200, within=within)


@asynccontextmanager
async def durable_stack(
    work: Path,
    tokens: Tokens,
    *,
    database_args: Sequence[str] = (),
    transport: Transport = Transport.HTTP,
    terminals: int = 8,
    items: int = 30,
    first_terminal_no: int = 1,
    code: Path | None = None,
    service_env: Mapping[str, str] | None = None,
) -> AsyncIterator[DurableStack]:
    """Starts it under `work` (its data in `work`/secantus). `code`: a checkout of the
    repository whose cart and master-data run instead of the installed ones (an export of an
    older commit, for a before/after). `service_env`: more settings of both services."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    data_dir = work / "secantus"
    port = free_port()
    processes: list[ManagedProcess] = []
    stack: DurableStack | None = None
    try:
        database, uri = await asyncio.to_thread(
            start_secantus, data_dir, port=port, log_dir=work, extra_args=tuple(database_args)
        )
        processes.append(database)
        master_env = dict(service_env or {})
        if code is not None:
            master_env["PYTHONPATH"] = pythonpath_first(
                [code / folder for folder in MASTER_DATA_FOLDERS]
            )
        master = await asyncio.to_thread(
            start_master_data, uri, tokens, log_dir=work, extra_env=master_env
        )
        processes.append(master.process)
        catalog = await load_demo_catalog(master.url, tokens.admin, demo_catalog(items + 5))
        cart_paths = older_ref.import_paths(code) if code is not None else []
        if code is not None:
            await asyncio.to_thread(older_ref.check_imports_from, code, cart_paths)
        cart = await asyncio.to_thread(
            start_cart, uri, tokens, master, transport=transport, log_dir=work,
            import_paths=cart_paths, extra_env=service_env,
        )  # fmt: skip
        processes.append(cart.process)
        numbers = list(range(first_terminal_no, first_terminal_no + terminals))
        keys = [
            await asyncio.to_thread(
                terminal_key, cart.url, tokens.cart_admin, catalog.tenant_id, DEMO_STORE, number
            )
            for number in numbers
        ]
        stack = DurableStack(
            work, data_dir, port, tuple(database_args), database, uri, master, cart,
            catalog.tenant_id, catalog.sellable_codes[:items], numbers, keys,
        )  # fmt: skip
        yield stack
    finally:
        if stack is not None:  # the database may have been started again since
            processes[0] = stack.database
        for process in reversed(processes):
            with contextlib.suppress(Exception):
                process.stop()


@dataclass
class Window:
    """One window of sales against a stack: what was answered, and each process's CPU."""

    requests: int
    failed: int
    seconds: float
    cpu_ms: dict[str, float]
    """CPU-ms per request, by process."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def measure_window(
    stack: DurableStack, seconds: float, transport: Transport, processes: Sequence[str]
) -> Window:
    """`seconds` of sales by every terminal of `stack`, with the CPU of `processes` (among
    cart, master-data and database)."""
    pids = {
        "cart": stack.cart.process.pid,
        "master-data": stack.master.process.pid,
        "database": stack.database.pid,
    }
    load = SalesLoad(stack.codes, DrillResult(transport, 0))
    probe = CpuProbe({name: pids[name] for name in processes})
    probe.open({})
    async with load.selling(stack.cart.url, stack.keys):
        await asyncio.sleep(seconds)
    probe.close()
    answered = load.result.calls - load.result.failed
    return Window(
        answered, load.result.failed, load.result.seconds, per_request_ms(probe.used, answered)
    )
