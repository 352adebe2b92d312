"""The comparison report: results.json, summary.md, report.html and PNG charts in one folder.

Per endpoint and mode: requests/s, p50, p95, p99 and failures (medians over rounds); the
master-data call latency as cart saw it (Server-Timing); what each request cost (cost_sections);
what a terminal sees when cart is not saturated, and unloaded (terminal_sections); and every
mode's ratio to its baseline for each figure, with a 95 % interval across rounds and a plain
verdict.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pos_loadtest.comparison.modes import setting_of
from pos_loadtest.comparison.results import Comparison, RunResult, keys_of, load_comparison
from pos_loadtest.comparison.scenario import ENDPOINT_ORDER, HEADLINE_ENDPOINT, MASTER_DATA_KIND
from pos_loadtest.report import cost, cost_sections, propagation_sections, terminal_sections
from pos_loadtest.report.charts import plt, save
from pos_loadtest.report.format import (
    Section,
    fmt,
    html_section,
    markdown_section,
    ratio_text,
)
from pos_loadtest.report.stats import Ratio, paired_ratio

__all__ = ["ENDPOINT_ORDER", "Comparison", "RunResult", "load_comparison", "write_report"]

MASTER_DATA = MASTER_DATA_KIND


def _series(comparison: Comparison, mode: str, key: tuple[str, str], figure: str) -> list[float]:
    values = []
    for run in comparison.runs_of(mode):
        row = run.row(*key)
        values.append(float(getattr(row, figure)) if row else math.nan)
    return values


def _median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def _total_rps(comparison: Comparison, mode: str) -> list[float]:
    """Requests/s of all cart endpoints together, per round: the whole flow's throughput."""
    return [run.requests_per_second for run in comparison.runs_of(mode)]


@dataclass(frozen=True)
class RatioRow:
    figure: str
    mode: str
    ratio: Ratio
    lower_is_better: bool


def _same_lookups(mode: str, base: str) -> bool:
    """Whether the master-data calls of the two modes compare: with the item cache only the
    misses call (asking master-data past its own cache), without it every lookup does."""
    ours, theirs = setting_of(mode), setting_of(base)
    return ours is None or theirs is None or ours.item_cache == theirs.item_cache


def ratio_rows(comparison: Comparison) -> list[RatioRow]:
    rows: list[RatioRow] = []
    for mode in comparison.mode_names:
        base = comparison.baseline_of(mode)
        if mode == base:
            continue
        rows.append(
            RatioRow(
                "all cart endpoints: req/s",
                mode,
                paired_ratio(_total_rps(comparison, mode), _total_rps(comparison, base)),
                lower_is_better=False,
            )
        )
        for figure in cost.COST_FIGURES:
            ratio = cost.ratio_to_baseline(comparison, mode, figure)
            if not math.isnan(ratio.value):
                rows.append(RatioRow(figure.label, mode, ratio, lower_is_better=True))
        for key in keys_of(comparison.runs):
            if key[0] == MASTER_DATA and not _same_lookups(mode, base):
                continue
            label = f"{'master-data call during ' if key[0] == MASTER_DATA else ''}{key[1]}"
            figures = ("p50_ms", "p95_ms", "p99_ms") if key[0] == MASTER_DATA else (
                "rps", "p50_ms", "p95_ms", "p99_ms"
            )  # fmt: skip
            for figure_name in figures:
                ratio = paired_ratio(
                    _series(comparison, mode, key, figure_name),
                    _series(comparison, base, key, figure_name),
                )
                if ratio.rounds == 0:  # no such row on one side (a cache answered every lookup)
                    continue
                rows.append(RatioRow(f"{label}: {_FIGURE_LABELS[figure_name]}", mode, ratio,
                                     lower_is_better=figure_name != "rps"))  # fmt: skip
    return rows


_FIGURE_LABELS = {"rps": "req/s", "p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}


def headline(comparison: Comparison) -> list[str]:
    """Plain sentences: each mode against its baseline, on what matters most."""
    sentences = []
    add_key = ("cart", HEADLINE_ENDPOINT)
    md_key = (MASTER_DATA, HEADLINE_ENDPOINT)
    for mode in comparison.mode_names:
        base = comparison.baseline_of(mode)
        if mode == base:
            continue
        throughput = paired_ratio(_total_rps(comparison, mode), _total_rps(comparison, base))
        add_p50 = paired_ratio(
            _series(comparison, mode, add_key, "p50_ms"),
            _series(comparison, base, add_key, "p50_ms"),
        )
        md_p50 = paired_ratio(
            _series(comparison, mode, md_key, "p50_ms"), _series(comparison, base, md_key, "p50_ms")
        )
        figures = [
            ("throughput of the whole flow", throughput, False),
            ("median add-item latency", add_p50, True),
        ]
        if _same_lookups(mode, base):
            figures.append(("median master-data call inside add-item", md_p50, True))
        for what, figure in (
            ("services' CPU-ms per request", cost.SERVICES_FIGURE),
            ("database operations per request", cost.DATABASE_OPERATIONS),
        ):
            ratio = cost.ratio_to_baseline(comparison, mode, figure)
            if not math.isnan(ratio.value):  # results of older runs do not have it
                figures.append((what, ratio, True))
        parts = []
        for what, ratio, lower_better in figures:
            if ratio.rounds == 0:  # nothing to compare (no master-data call with the cache)
                continue
            value, interval = ratio_text(ratio)
            parts.append(f"{what} x{value} (95 % CI {interval}): {ratio.describe(lower_better)}")
        sentences.append(f"**{mode}** against **{base}**: " + "; ".join(parts) + ".")
    return sentences


def _endpoint_table(comparison: Comparison, kind: str) -> list[list[str]]:
    table = []
    for key in keys_of(comparison.runs):
        if key[0] != kind:
            continue
        for mode in comparison.mode_names:
            row = [key[1], mode]
            figures = ("rps", "p50_ms", "p95_ms", "p99_ms") if kind == "cart" else (
                "p50_ms", "p95_ms", "p99_ms", "average_ms"
            )  # fmt: skip
            row += [fmt(_median(_series(comparison, mode, key, f))) for f in figures]
            failures = sum(
                int(v) for v in _series(comparison, mode, key, "failures") if not math.isnan(v)
            )
            requests = sum(
                int(v) for v in _series(comparison, mode, key, "requests") if not math.isnan(v)
            )
            row += [str(requests), str(failures)]
            table.append(row)
    return table


CART_HEADER = ["endpoint", "mode", "req/s", "p50 ms", "p95 ms", "p99 ms", "requests", "failures"]
MD_HEADER = ["during", "mode", "p50 ms", "p95 ms", "p99 ms", "mean ms", "calls", "failures"]
RATIO_HEADER = ["figure", "mode", "ratio to baseline", "95 % CI", "verdict"]


def _ratio_table(comparison: Comparison) -> list[list[str]]:
    table = []
    for row in ratio_rows(comparison):
        value, interval = ratio_text(row.ratio)
        table.append(
            [row.figure, row.mode, value, interval, row.ratio.describe(row.lower_is_better)]
        )
    return table


CHARTS = (
    "throughput.png", "latency.png", "masterdata.png", "ratios.png", cost_sections.CHART,
)  # fmt: skip


def _charts(comparison: Comparison, folder: Path) -> None:
    modes = comparison.mode_names
    cart_keys = [k for k in keys_of(comparison.runs) if k[0] == "cart"]
    md_keys = [k for k in keys_of(comparison.runs) if k[0] == MASTER_DATA]
    width = 0.8 / max(len(modes), 1)

    def grouped(ax: Any, keys: list[tuple[str, str]], figure: str, title: str) -> None:
        for i, mode in enumerate(modes):
            medians, lows, highs = [], [], []
            for key in keys:
                values = [v for v in _series(comparison, mode, key, figure) if not math.isnan(v)]
                middle = statistics.median(values) if values else 0.0
                medians.append(middle)
                lows.append(middle - min(values) if values else 0.0)
                highs.append(max(values) - middle if values else 0.0)
            positions = [x + i * width for x in range(len(keys))]
            ax.bar(positions, medians, width, yerr=[lows, highs], capsize=2, label=mode)
        ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(keys))])
        ax.set_xticklabels([k[1].replace("POST /carts", "").strip("/") or "create" for k in keys],
                           rotation=20, ha="right", fontsize=8)  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    grouped(ax, cart_keys, "rps", "Requests/s per endpoint (median of rounds, bars: min-max)")
    ax.legend(fontsize=8)
    save(fig, folder / "throughput.png")

    def percentiles(keys: list[tuple[str, str]], title: str, name: str) -> None:
        """p50, p95 and p99 side by side; `title` says of what ({} for the percentile)."""
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        for ax, figure in zip(axes, ("p50_ms", "p95_ms", "p99_ms"), strict=True):
            grouped(ax, keys, figure, title.format(_FIGURE_LABELS[figure]))
        axes[0].legend(fontsize=8)
        save(fig, folder / name)

    percentiles(cart_keys, "{} latency, ms", "latency.png")
    percentiles(md_keys, "master-data call {}, ms (cart's view)", "masterdata.png")

    picked = [
        row
        for row in ratio_rows(comparison)
        if row.figure.startswith("all cart endpoints")
        or row.figure.endswith(f"{HEADLINE_ENDPOINT}: p50")
        or row.figure == cost.SERVICES_FIGURE.label
    ]
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(len(picked), 1)))
    for y, row in enumerate(picked):
        r = row.ratio
        if math.isnan(r.value):
            continue
        error = [[r.value - r.low], [r.high - r.value]] if not math.isnan(r.low) else None
        ax.errorbar(r.value, y, xerr=error, fmt="o", capsize=4)
    ax.axvline(1.0, color="grey", linestyle="--")
    ax.set_xscale("log")
    ax.set_yticks(range(len(picked)))
    ax.set_yticklabels([f"{row.mode}: {row.figure}" for row in picked], fontsize=8)
    ax.set_title("Ratio to each mode's baseline with 95 % CI (1 = same)", fontsize=10)
    save(fig, folder / "ratios.png")

    cost_sections.chart(comparison, folder / cost_sections.CHART)


def _ratio_note(comparison: Comparison) -> str:
    older = [m for m in comparison.mode_names if comparison.baseline_of(m) != comparison.baseline]
    against = f"Each mode is compared with {comparison.baseline}"
    if older:
        against += ", and each mode of older code (<mode>@<ref>) with <mode> on the current code"
    note = (
        f"{against}. Paired by round (the modes ran interleaved). For req/s above 1 is better; "
        "for latencies and costs below 1 is better. An interval that contains 1 is noise."
    )
    if any(not _same_lookups(m, comparison.baseline_of(m)) for m in comparison.mode_names):
        note += (
            " The master-data call's latency is not compared between a mode with the item "
            "cache and one without: with it, only the cache's misses call master-data."
        )
    return note


def sections(comparison: Comparison) -> list[Section]:
    settings_rows = [[k, str(v)] for k, v in comparison.settings.items()]
    mode_rows = [[m["name"], m["description"]] for m in comparison.modes]
    env = comparison.environment
    env_rows = [
        ["CPUs", str(env.get("cpuCount"))],
        ["platform", str(env.get("platform"))],
        ["python", str(env.get("python"))],
        ["database", str(env.get("database"))],
        *([name, str(version)] for name, version in env.get("packages", {}).items()),
    ]
    return [
        Section("Modes", "", ["mode", "cart configuration"], mode_rows),
        Section("Load", "", ["setting", "value"], settings_rows),
        Section(
            "Per endpoint (closed loop, medians over rounds)",
            "",
            CART_HEADER,
            _endpoint_table(comparison, "cart"),
        ),
        Section(
            "master-data calls as cart saw them (Server-Timing)",
            "Time cart spent waiting for master-data inside each call, per transport.",
            MD_HEADER,
            _endpoint_table(comparison, MASTER_DATA),
        ),
        *cost_sections.sections(comparison),
        *terminal_sections.sections(comparison),
        *propagation_sections.sections(comparison),
        Section(
            "Ratios (geometric mean over rounds, 95 % CI)",
            _ratio_note(comparison),
            RATIO_HEADER,
            _ratio_table(comparison),
        ),
        Section("Environment", "", ["", ""], env_rows),
    ]


def write_report(comparison: Comparison, folder: Path) -> Path:
    """Writes every file of the report into `folder`; returns the Markdown summary's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(asdict(comparison), indent=2, default=str))
    _charts(comparison, folder)
    parts = sections(comparison)
    title = f"HTTP vs gRPC comparison, {comparison.started_at}"
    md = [f"# {title}", "", f"Command: `{comparison.command}`", "", "## Headline", ""]
    md += [f"- {sentence}" for sentence in headline(comparison)]
    for section in parts:
        md += markdown_section(section)
    md += ["", "## Charts", ""] + [f"![{name}]({name})" for name in CHARTS] + [""]
    summary = folder / "summary.md"
    summary.write_text("\n".join(md))

    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Command: <code>{html.escape(comparison.command)}</code></p>",
        "<h2>Headline</h2><ul>",
    ]
    body += [f"<li>{html.escape(s).replace('**', '')}</li>" for s in headline(comparison)]
    body.append("</ul>")
    body += [html_section(section) for section in parts]
    body.append("<h2>Charts</h2>")
    body += [f'<p><img src="{name}" alt="{name}"></p>' for name in CHARTS]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}"
    )
    (folder / "report.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    """`pos-report FOLDER`: renders FOLDER/results.json again."""
    parser = argparse.ArgumentParser(
        prog="pos-report", description="Render a saved comparison's report again."
    )
    parser.add_argument("folder", type=Path, help="a folder holding results.json")
    folder: Path = parser.parse_args(argv).folder
    summary = write_report(load_comparison(folder / "results.json"), folder)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
