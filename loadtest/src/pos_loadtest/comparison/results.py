"""What a comparison measured, as results.json holds it, and the series the report reads."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pos_loadtest.comparison.locust_run import EndpointStats
from pos_loadtest.comparison.modes import current_mode_name
from pos_loadtest.comparison.scenario import (
    ENDPOINT_ORDER,
    MASTER_DATA_KIND,
    SALE_START,
    is_cart_call,
)
from pos_loadtest.probes.lookups import hit_ratio
from pos_loadtest.probes.prometheus import Histogram


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
    master_data_calls: float | None = None
    """Item-detail and payment-method calls master-data answered over the window, HTTP and
    gRPC (lookups.py); None: not measured (results of older runs)."""
    item_cache_hits: float | None = None
    """Lookups cart's item cache answered over the window; None: no cache counted."""
    item_cache_misses: float | None = None
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

    @property
    def item_cache_hit_ratio(self) -> float | None:
        return hit_ratio(self.item_cache_hits, self.item_cache_misses)

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
class PriceChange:
    """One price change of the probe item, and when each cart process showed it."""

    price: str
    seconds: list[float | None]
    """Per cart process: from master-data's 200 to the answer of the first scan that showed
    the new price; None: not shown within the limit."""
    scans: list[int]
    """Scans each process was asked for, the showing one included."""
    from_cache: list[bool | None]
    """Whether the showing scan was answered from cart's item cache (no master-data entry in
    its Server-Timing); None: not shown."""

    @property
    def everywhere(self) -> float | None:
        """When every process showed it (the slowest); None if one did not."""
        if any(seconds is None for seconds in self.seconds):
            return None
        return max(seconds for seconds in self.seconds if seconds is not None)


@dataclass
class FeedLag:
    """One cart process's catalog_feed_lag_seconds, grown over the changes."""

    buckets: list[tuple[str, float]]
    """(upper bound as Prometheus writes it, "+Inf" last; cumulative count)."""
    count: float
    sum: float

    @classmethod
    def of(cls, histogram: Histogram) -> FeedLag:
        buckets = [("+Inf" if math.isinf(b) else str(b), n) for b, n in histogram.buckets]
        return cls(buckets, histogram.count, histogram.sum)

    def histogram(self) -> Histogram:
        return Histogram(
            tuple((float(bound), n) for bound, n in self.buckets), self.count, self.sum
        )


@dataclass
class PropagationRun:
    """One transport's price changes, made through master-data while the closed-loop load
    ran on several cart processes of the mode."""

    mode: str
    item_code: str
    processes: int
    users: int
    """Terminals of the load, over all processes."""
    limit_seconds: float
    """A change not shown by a process within this long is a failure."""
    planned_changes: int
    changes: list[PriceChange] = field(default_factory=list)
    primed: list[bool] = field(default_factory=list)
    """Per process: the probe item was served from its cache before the first change."""
    feed_lag: list[FeedLag | None] = field(default_factory=list)
    """Per process (None: its /metrics has no catalog_feed_lag_seconds)."""
    seconds: float = 0.0
    """From the first change to the last one shown (or given up)."""
    cart_requests: float | None = None
    """Requests the cart processes answered over those seconds, the probe's scans included."""
    error: str | None = None
    """Why the phase did not run to its end for this mode; None: it did."""

    @property
    def not_shown(self) -> list[PriceChange]:
        """Changes some process did not show within the limit: failures."""
        return [change for change in self.changes if change.everywhere is None]


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
    propagation: list[PropagationRun] = field(default_factory=list)
    """Price changes under load, one per fed-cache transport (propagation.py)."""

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


def _propagation_from(raw: dict[str, Any]) -> PropagationRun:
    changes = [PriceChange(**change) for change in raw.pop("changes", [])]
    lags = [
        None if lag is None else FeedLag([(b, n) for b, n in lag.pop("buckets")], **lag)
        for lag in raw.pop("feed_lag", [])
    ]
    return PropagationRun(**raw, changes=changes, feed_lag=lags)


def load_comparison(path: Path) -> Comparison:
    """A comparison back from its results.json (to render a report again); older files,
    without the later fields, load too."""
    raw = json.loads(path.read_text())
    runs = [_run_from(run) for run in raw.pop("runs")]
    open_loop = [_run_from(run) for run in raw.pop("open_loop", [])]
    unloaded = [_run_from(run) for run in raw.pop("unloaded", [])]
    propagation = [_propagation_from(run) for run in raw.pop("propagation", [])]
    return Comparison(
        **raw, runs=runs, open_loop=open_loop, unloaded=unloaded, propagation=propagation
    )
