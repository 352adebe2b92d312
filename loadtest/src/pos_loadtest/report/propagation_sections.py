"""The report's propagation sections: how soon a price change showed on every cart process
under load, against the goal, with every change that did not show; and the feed's own lag
from cart's histogram."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pos_loadtest.comparison.propagation import INTERVAL_SECONDS
from pos_loadtest.comparison.results import Comparison, PropagationRun
from pos_loadtest.report.format import Section, fmt
from pos_loadtest.report.stats import percentile

GOAL_P99_SECONDS = 1.0
"""The issue's goal: p99 of "every cart process shows it" at most a second."""

SHOWN_HEADING = "Propagation: a price change under load, until every cart process shows it"
LAG_HEADING = "Propagation: the catalog feed's own lag (cart's catalog_feed_lag_seconds)"
SHOWN_HEADER = [
    "mode", "shown by", "changes", "shown", "not shown within the limit", "p50 ms", "p99 ms",
    "max ms", "showing scan answered from the cache",
]  # fmt: skip
LAG_HEADER = ["mode", "cart process", "changes applied", "mean ms", "p50 ms (est.)",
              "p99 ms (est.)"]  # fmt: skip
SHOWN_NOTE = (
    "Two cart processes per transport (the first mode of each with the fed item cache), each "
    "under the closed-loop scenario with half the terminals, one locust each. At most every "
    f"{INTERVAL_SECONDS:g} s the price of a probe item the load does not scan is changed "
    "through master-data's admin API (a new value each time); from master-data's 200, each "
    "process scans the item in a fresh probe cart of a terminal of its own until the line "
    "shows the new price. Times are from that 200 to the answer of the scan that showed it, "
    "so they include that scan's round trip through a loaded cart. 'every process' is the "
    "slower of the two per change. Percentiles over the changes shown (linear between ranks: "
    "with 20 changes the p99 is next to the max); a change not shown within the limit is a "
    "failure, listed below."
)
LAG_NOTE = (
    "From the change's time in master-data's database (the change event's wallTime) to cart "
    "applying it to its cache: each process's histogram, grown over the changes. The mean is "
    "exact (sum over count); p50 and p99 are estimated from the buckets (5, 10, 25, 50, 100, "
    "250 ms, ...) by linear interpolation within the bucket they fall in, as Prometheus' "
    "histogram_quantile does: read them as that bucket."
)


@dataclass(frozen=True)
class Spread:
    shown: int
    p50: float
    p99: float
    max: float
    """Seconds; NaN when nothing was shown."""


def spread(seconds: Sequence[float | None]) -> Spread:
    shown = [value for value in seconds if value is not None]
    top = max(shown) if shown else math.nan
    return Spread(len(shown), percentile(shown, 0.5), percentile(shown, 0.99), top)


def everywhere(run: PropagationRun) -> list[float | None]:
    return [change.everywhere for change in run.changes]


def of_process(run: PropagationRun, index: int) -> list[float | None]:
    return [change.seconds[index] for change in run.changes]


def goal_met(run: PropagationRun) -> bool:
    """Every planned change shown everywhere, and their p99 within the goal."""
    times = everywhere(run)
    if run.error or not times or len(times) < run.planned_changes or None in times:
        return False
    return spread(times).p99 <= GOAL_P99_SECONDS


def _ms(value: float) -> str:
    return fmt(value * 1000, 1)


def _row(run: PropagationRun, who: str, seconds: list[float | None], cached: int) -> list[str]:
    found = spread(seconds)
    return [
        run.mode, who, str(len(seconds)), str(found.shown), str(len(seconds) - found.shown),
        _ms(found.p50), _ms(found.p99), _ms(found.max), f"{cached} of {found.shown}",
    ]  # fmt: skip


def shown_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for run in comparison.propagation:
        if run.error and not run.changes:
            rows.append([run.mode, "did not run to its end", *["-"] * 7])
            continue
        everyone = sum(
            1 for change in run.changes if change.everywhere is not None and all(change.from_cache)
        )
        rows.append(_row(run, "every process", everywhere(run), everyone))
        for index in range(run.processes):
            cached = sum(1 for change in run.changes if change.from_cache[index])
            rows.append(_row(run, f"process {index + 1}", of_process(run, index), cached))
    return rows


def _failures(run: PropagationRun) -> str:
    listed = []
    for number, change in enumerate(run.changes, start=1):
        missing = [str(i + 1) for i, seconds in enumerate(change.seconds) if seconds is None]
        if missing:
            listed.append(f"change {number} (to {change.price}) on process {', '.join(missing)}")
    return (
        f"**FAILED ({run.mode})**: {len(run.not_shown)} of {len(run.changes)} changes were not "
        f"shown by every cart process within {run.limit_seconds:g} s: " + "; ".join(listed) + "."
    )


def paragraphs(run: PropagationRun) -> list[str]:
    found: list[str] = []
    if run.error:
        found.append(f"**FAILED ({run.mode})**: the phase did not run to its end: {run.error}")
    if run.not_shown:
        found.append(_failures(run))
    rate = ""
    if run.cart_requests is not None and run.seconds > 0:
        rate = f", {run.cart_requests / run.seconds:.0f} cart requests/s with the probe's scans"
    times = spread(everywhere(run))
    verdict = "met" if goal_met(run) else "**NOT met**"
    found.append(
        f"**{run.mode}**: {len(run.changes)} of {run.planned_changes} changes of "
        f"{run.item_code or 'the probe item'}'s price over {run.seconds:.1f} s, under "
        f"{run.users} terminals over {run.processes} cart processes{rate}. Until every process "
        f"showed it: p99 {_ms(times.p99)} ms, max {_ms(times.max)} ms: the goal (p99 at most "
        f"{GOAL_P99_SECONDS:g} s, every change shown) is {verdict}."
    )
    unprimed = [str(i + 1) for i, primed in enumerate(run.primed) if not primed]
    if unprimed:
        found.append(
            f"{run.mode}: process {', '.join(unprimed)} did not serve the probe item from its "
            "cache before the first change: its first sightings may be master-data's answers, "
            "not the feed's."
        )
    return found


def lag_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for run in comparison.propagation:
        measured = [(i, lag) for i, lag in enumerate(run.feed_lag) if lag is not None]
        if not measured:
            continue
        both = measured[0][1].histogram()
        for _, lag in measured[1:]:
            both = both.plus(lag.histogram())
        named = [(f"process {i + 1}", lag.histogram()) for i, lag in measured]
        for who, histogram in [*named, ("both", both)]:
            rows.append(
                [
                    run.mode, who, f"{histogram.count:.0f}", _ms(histogram.mean),
                    _ms(histogram.quantile(0.5)), _ms(histogram.quantile(0.99)),
                ]
            )  # fmt: skip
    return rows


def sections(comparison: Comparison) -> list[Section]:
    if not comparison.propagation:
        return []
    notes = [text for run in comparison.propagation for text in paragraphs(run)]
    found = [Section(SHOWN_HEADING, SHOWN_NOTE, SHOWN_HEADER, shown_rows(comparison), notes)]
    lags = lag_rows(comparison)
    if lags:
        found.append(Section(LAG_HEADING, LAG_NOTE, LAG_HEADER, lags))
    return found


def failures(comparison: Comparison) -> list[str]:
    """One line per mode whose phase failed (a change not shown, or the phase cut short)."""
    return [
        f"propagation {run.mode}: "
        + (run.error or f"{len(run.not_shown)} changes not shown within {run.limit_seconds:g} s")
        for run in comparison.propagation
        if run.error or run.not_shown
    ]


def describe_propagation(run: PropagationRun) -> str:
    """One line for the console while the comparison runs."""
    if run.error:
        return f"    FAILED: {run.error}"
    times = spread(everywhere(run))
    line = (
        f"    {len(run.changes)} changes; every process showed it: p50 {_ms(times.p50)} ms, "
        f"p99 {_ms(times.p99)} ms, max {_ms(times.max)} ms; not shown within "
        f"{run.limit_seconds:g} s: {len(run.not_shown)}"
    )
    return (
        line
        + f"; goal (p99 <= {GOAL_P99_SECONDS:g} s, every change shown) "
        + ("met" if goal_met(run) else "NOT met")
    )
