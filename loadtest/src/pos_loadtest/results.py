"""What a comparison measured, as results.json holds it, and the series the report reads."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pos_loadtest.locust_run import EndpointStats
from pos_loadtest.modes import current_mode_name
from pos_loadtest.scenario import ENDPOINT_ORDER, MASTER_DATA_KIND, SALE_START, is_cart_call


@dataclass
class RunResult:
    mode: str
    round: int
    rows: list[EndpointStats]
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process tree used over the counted window (cart, master-data,
    database when embedded, locust); divided by the requests counted, CPU-ms per request."""
    cpu_processes: dict[str, str] = field(default_factory=dict)
    """The command line of each process whose CPU was read."""
    database_commands: float | None = None
    """MongoDB commands cart counted itself (/metrics) over the window; None: not exposed."""
    database_operations: float | None = None
    """Commands the database received from cart over the window (dbops: its opcounters, less
    master-data's commands and the probe's own)."""
    master_data_commands: float | None = None
    stored_carts_at_start: int | None = None
    cart_pythonpath: str | None = None
    """PYTHONPATH cart ran with (None: unset): a baseline checkout's folders come first."""
    seconds: float | None = None
    """The measured window's length."""
    users: int | None = None
    load_share: float | None = None
    """Open loop: the share of the mode's closed-loop capacity offered."""
    offered_sales_per_second: float | None = None
    offered_requests_per_second: float | None = None

    @property
    def requests(self) -> int:
        return sum(row.requests for row in self.rows if is_cart_call(row.kind))

    @property
    def sales(self) -> int:
        return sum(row.requests for row in self.rows if row.name == SALE_START)

    @property
    def requests_per_second(self) -> float:
        """Requests/s of all cart endpoints together: the whole flow's throughput."""
        return sum(row.rps for row in self.rows if is_cart_call(row.kind))

    def per_request(self, count: float | None) -> float:
        if count is None or not self.requests:
            return math.nan
        return count / self.requests

    def row(self, kind: str, name: str) -> EndpointStats | None:
        for row in self.rows:
            if row_key(row) == (kind, name):
                return row
        return None


def row_key(row: EndpointStats) -> tuple[str, str]:
    """("cart", endpoint) or ("masterdata", endpoint): master-data entries are named
    "<transport>: <endpoint>", and are compared across transports by endpoint."""
    if row.kind == MASTER_DATA_KIND:
        return MASTER_DATA_KIND, row.name.split(": ", 1)[-1]
    if not is_cart_call(row.kind):
        return row.kind, row.name
    return "cart", row.name


def keys_of(runs: Sequence[RunResult]) -> list[tuple[str, str]]:
    """The (cart | masterdata, endpoint) keys of the runs, cart's first, in the flow's order."""
    seen = {row_key(row) for run in runs for row in run.rows}
    seen = {key for key in seen if key[0] in ("cart", MASTER_DATA_KIND)}
    order = {name: i for i, name in enumerate(ENDPOINT_ORDER)}
    return sorted(seen, key=lambda k: (k[0] != "cart", order.get(k[1], 99), k[1]))


@dataclass
class Comparison:
    started_at: str
    command: str
    modes: list[dict[str, str]]
    baseline: str
    settings: dict[str, Any]
    environment: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    """The closed-loop rounds."""
    open_loop: list[RunResult] = field(default_factory=list)
    unloaded: list[RunResult] = field(default_factory=list)
    """One terminal, no think time: the hop without queueing."""

    @property
    def mode_names(self) -> list[str]:
        return [mode["name"] for mode in self.modes]

    @property
    def rounds(self) -> int:
        return max((run.round for run in self.runs), default=0)

    def runs_of(self, mode: str) -> list[RunResult]:
        return sorted((r for r in self.runs if r.mode == mode), key=lambda r: r.round)

    def baseline_of(self, mode: str) -> str:
        """What `mode`'s ratios are to: the same configuration on the current code for a mode
        of older code, else the comparison's baseline."""
        current = current_mode_name(mode)
        return current if current != mode and current in self.mode_names else self.baseline


def _run_from(raw: dict[str, Any]) -> RunResult:
    known = {f.name for f in fields(RunResult)}
    values = {k: v for k, v in raw.items() if k in known and k != "rows"}
    return RunResult(**values, rows=[EndpointStats(**row) for row in raw["rows"]])


def load_comparison(path: Path) -> Comparison:
    """A comparison back from its results.json (to render a report again); older files,
    without the later fields, load too."""
    raw = json.loads(path.read_text())
    runs = [_run_from(run) for run in raw.pop("runs")]
    open_loop = [_run_from(run) for run in raw.pop("open_loop", [])]
    unloaded = [_run_from(run) for run in raw.pop("unloaded", [])]
    return Comparison(**raw, runs=runs, open_loop=open_loop, unloaded=unloaded)
