"""The report's sections on what a terminal sees: latency at fixed arrival rates below
capacity (open loop), latency of one terminal alone (the unloaded hop), and what the seed's
per-call claims would look like against the latter."""

from __future__ import annotations

import math

from pos_commons.transport import Transport
from pos_loadtest.comparison.modes import parse_mode
from pos_loadtest.comparison.open_loop import achieved_sales_per_second
from pos_loadtest.comparison.results import Comparison, RunResult, keys_of
from pos_loadtest.comparison.scenario import (
    ARRIVAL_KIND,
    ARRIVAL_NAME,
    HEADLINE_ENDPOINT,
    MASTER_DATA_KIND,
)
from pos_loadtest.report.format import Section, fmt

SEED_CLAIM = "HTTP 130-150 ms, gRPC 2-5 ms per call"
SEED_CLAIM_HTTP_MS = (130.0, 150.0)
SEED_CLAIM_GRPC_MS = (2.0, 5.0)

OPEN_LOOP_NOTE = (
    "Sales start on a fixed schedule, whatever cart's speed: one every 1/rate seconds, taken "
    "by whichever terminal is free (locustfile --arrival-rate; pos_loadtest.comparison.scenario."
    "ArrivalSchedule), one locust process. The rate offered to a mode is a share of its own "
    "closed-loop capacity (median whole-flow req/s over its rounds), divided by the calls a "
    "sale makes on average (create, the items, then cancel or subtotal, payment and bill). "
    "A sale's calls follow one another as a terminal makes them. "
    "When every terminal is busy the next sale starts late: the start delay below says by "
    "how much, and achieved below offered says the schedule was not kept. Moments missed "
    "while the terminals were being started are dropped when the window opens. One run per "
    "mode and share: no interval."
)
ENDPOINTS_NOTE = (
    "Latency of each call from the terminal's side (locust), and of the master-data call "
    "inside it as cart timed it (Server-Timing). locust keeps times under 100 ms to the "
    "millisecond, so percentiles of a hop of a few ms are coarse; the mean is exact."
)

OFFERED_HEADER = [
    "mode", "share of capacity", "terminals", "offered sales/s", "achieved sales/s",
    "offered req/s", "achieved req/s", "start delay p50 ms", "p95 ms", "p99 ms", "failures",
]  # fmt: skip
LATENCY_HEADER = ["call", "mode", "load", "p50 ms", "p95 ms", "p99 ms", "mean ms", "count",
                  "failures"]  # fmt: skip


_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


def _label(key: tuple[str, str]) -> str:
    return f"master-data call during {key[1]}" if key[0] == MASTER_DATA_KIND else key[1]


def _failures(run: RunResult) -> int:
    return sum(row.failures for row in run.rows if row.kind != ARRIVAL_KIND)


def offered_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for run in sorted(comparison.open_loop, key=lambda r: (r.load_share or 0, r.mode)):
        delay = run.row(ARRIVAL_KIND, ARRIVAL_NAME)
        rows.append(
            [
                run.mode,
                f"{run.load_share or math.nan:.0%}",
                str(run.users),
                fmt(run.offered_sales_per_second or math.nan, 2),
                fmt(achieved_sales_per_second(run), 2),
                fmt(run.offered_requests_per_second or math.nan),
                fmt(run.requests_per_second),
                *(fmt(getattr(delay, f), 0) if delay else "-" for f in _PERCENTILES),
                str(_failures(run)),
            ]
        )
    return rows


def latency_rows(runs: list[RunResult], load_of: dict[int, str]) -> list[list[str]]:
    """Per call (cart's endpoints, then the master-data calls inside them), per run."""
    rows = []
    for key in keys_of(runs):
        for run in runs:
            row = run.row(*key)
            if row is None:
                continue
            rows.append(
                [
                    _label(key), run.mode, load_of[id(run)],
                    fmt(row.p50_ms), fmt(row.p95_ms), fmt(row.p99_ms), fmt(row.average_ms, 2),
                    str(row.requests), str(row.failures),
                ]
            )  # fmt: skip
    return rows


def _hop(run: RunResult) -> tuple[float, float, float, float]:
    """p50 and mean of the add-item call, and of the master-data call inside it, ms."""
    call = run.row("cart", HEADLINE_ENDPOINT)
    hop = run.row(MASTER_DATA_KIND, HEADLINE_ENDPOINT)
    nan = math.nan
    return (
        call.p50_ms if call else nan, call.average_ms if call else nan,
        hop.p50_ms if hop else nan, hop.average_ms if hop else nan,
    )  # fmt: skip


def _ratio(http: float, grpc: float) -> str:
    return f"x{http / grpc:.2f}" if http > 0 and grpc > 0 else "-"


def claim_paragraphs(comparison: Comparison) -> list[str]:
    """The seed's claim next to what one terminal measured here, in plain words."""
    current = {run.mode: run for run in comparison.unloaded if "@" not in run.mode}
    parsed = {mode: parse_mode(mode) for mode in current}
    # The claim is about the transports: with the item cache a warmed scan makes no call.
    uncached = {mode for mode, setting in parsed.items() if not setting.item_cache}
    if uncached:
        current = {mode: run for mode, run in current.items() if mode in uncached}
        parsed = {mode: parsed[mode] for mode in current}
    if not current:
        return []
    low = SEED_CLAIM_HTTP_MS[0] / SEED_CLAIM_GRPC_MS[1]
    high = SEED_CLAIM_HTTP_MS[1] / SEED_CLAIM_GRPC_MS[0]
    measured = "; ".join(
        f"{mode}: add-item {fmt(call_p50)} ms p50 ({fmt(call_mean, 2)} mean), master-data call "
        f"inside it {fmt(hop_p50)} ms p50 ({fmt(hop_mean, 2)} mean)"
        for mode, (call_p50, call_mean, hop_p50, hop_mean) in (
            (mode, _hop(run)) for mode, run in current.items()
        )
    )
    paragraphs = [
        f'**Against the claim "{SEED_CLAIM}"** (HTTP {low:.0f} to {high:.0f} times gRPC): '
        f"measured here with one terminal (one run per mode, so no interval)"
        + (", modes without the item cache" if uncached else "")
        + f": {measured}."
    ]
    for http_mode, http in parsed.items():
        if http.transport is not Transport.HTTP:
            continue
        alike = [
            m
            for m, p in parsed.items()
            if (p.idempotency_keys, p.item_cache) == (http.idempotency_keys, http.item_cache)
        ]
        grpc_mode = next((m for m in alike if parsed[m].transport is Transport.GRPC), None)
        if grpc_mode is None:
            continue
        h, g = _hop(current[http_mode]), _hop(current[grpc_mode])
        hop_ratio = h[3] / g[3] if h[3] > 0 and g[3] > 0 else math.nan
        verdict = (
            f"within the claim's {low:.0f} to {high:.0f}"
            if low <= hop_ratio <= high
            else f"not the claim's {low:.0f} to {high:.0f}"
        )
        paragraphs.append(
            f"{http_mode} against {grpc_mode}: the add-item call {_ratio(h[0], g[0])} at p50 "
            f"({_ratio(h[1], g[1])} in the mean), the master-data call inside it "
            f"{_ratio(h[2], g[2])} at p50 ({_ratio(h[3], g[3])} in the mean): {verdict}."
            if not math.isnan(hop_ratio)
            else f"{http_mode} against {grpc_mode}: no master-data timing to compare."
        )
    return paragraphs


def sections(comparison: Comparison) -> list[Section]:
    found: list[Section] = []
    if comparison.open_loop:
        loads = {id(run): f"{run.load_share or math.nan:.0%}" for run in comparison.open_loop}
        ordered = sorted(comparison.open_loop, key=lambda r: r.load_share or 0)
        found += [
            Section(
                "Open loop: offered and achieved arrival rates",
                OPEN_LOOP_NOTE,
                OFFERED_HEADER,
                offered_rows(comparison),
            ),
            Section(
                "Open loop: what a terminal sees per call",
                ENDPOINTS_NOTE,
                LATENCY_HEADER,
                latency_rows(ordered, loads),
            ),
        ]
    if comparison.unloaded:
        loads = {id(run): "one terminal" for run in comparison.unloaded}
        found.append(
            Section(
                "Unloaded hop: one terminal, no think time",
                "Each call waits for the one before: no queueing anywhere. " + ENDPOINTS_NOTE,
                LATENCY_HEADER,
                latency_rows(comparison.unloaded, loads),
                claim_paragraphs(comparison),
            )
        )
    return found
