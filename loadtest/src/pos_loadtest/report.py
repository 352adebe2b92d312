"""The comparison report: results.json, summary.md, report.html and PNG charts in one folder.

Per endpoint and mode: requests/s, p50, p95, p99 and failures (medians over rounds); the
master-data call latency as cart saw it (Server-Timing); and every mode's ratio to the
baseline mode for each figure, with a 95 % interval across rounds and a plain verdict.
"""

from __future__ import annotations

import html
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from pos_loadtest.locust_run import EndpointStats
from pos_loadtest.stats import Ratio, paired_ratio

ENDPOINT_ORDER = (
    "POST /carts",
    "POST /carts/{id}/lineItems",
    "POST /carts/{id}/subtotal",
    "POST /carts/{id}/payments",
    "POST /carts/{id}/bill",
    "POST /carts/{id}/cancel",
)
MASTER_DATA = "masterdata"
HEADLINE_ENDPOINT = "POST /carts/{id}/lineItems"


@dataclass
class RunResult:
    mode: str
    round: int
    rows: list[EndpointStats]
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process used over the counted window (cart, master-data, database,
    locust); divided by the requests counted, CPU-ms per request."""
    database_commands: float | None = None
    """MongoDB commands cart sent over the counted window."""

    @property
    def requests(self) -> int:
        return sum(row.requests for row in self.rows if row.kind != MASTER_DATA)


@dataclass
class Comparison:
    started_at: str
    command: str
    modes: list[dict[str, str]]
    baseline: str
    settings: dict[str, Any]
    environment: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)

    @property
    def mode_names(self) -> list[str]:
        return [mode["name"] for mode in self.modes]

    @property
    def rounds(self) -> int:
        return max((run.round for run in self.runs), default=0)


def _key(row: EndpointStats) -> tuple[str, str]:
    # master-data entries are named "<transport>: <endpoint>"; compare them across transports.
    if row.kind == MASTER_DATA:
        return MASTER_DATA, row.name.split(": ", 1)[-1]
    return "cart", row.name


def _series(comparison: Comparison, mode: str, key: tuple[str, str], figure: str) -> list[float]:
    values = []
    for run in sorted((r for r in comparison.runs if r.mode == mode), key=lambda r: r.round):
        matching = [row for row in run.rows if _key(row) == key]
        values.append(float(getattr(matching[0], figure)) if matching else math.nan)
    return values


def _keys(comparison: Comparison) -> list[tuple[str, str]]:
    seen = {_key(row) for run in comparison.runs for row in run.rows}
    order = {name: i for i, name in enumerate(ENDPOINT_ORDER)}
    return sorted(seen, key=lambda k: (k[0] != "cart", order.get(k[1], 99), k[1]))


def _median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def _total_rps(comparison: Comparison, mode: str) -> list[float]:
    """Requests/s of all cart endpoints together, per round: the whole flow's throughput."""
    totals = []
    for run in sorted((r for r in comparison.runs if r.mode == mode), key=lambda r: r.round):
        totals.append(sum(row.rps for row in run.rows if row.kind != MASTER_DATA))
    return totals


@dataclass(frozen=True)
class RatioRow:
    figure: str
    mode: str
    ratio: Ratio
    lower_is_better: bool


def ratio_rows(comparison: Comparison) -> list[RatioRow]:
    rows: list[RatioRow] = []
    base = comparison.baseline
    for mode in comparison.mode_names:
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
        for key in _keys(comparison):
            label = f"{'master-data call during ' if key[0] == MASTER_DATA else ''}{key[1]}"
            figures = ("p50_ms", "p95_ms", "p99_ms") if key[0] == MASTER_DATA else (
                "rps", "p50_ms", "p95_ms", "p99_ms"
            )  # fmt: skip
            for figure in figures:
                ratio = paired_ratio(
                    _series(comparison, mode, key, figure), _series(comparison, base, key, figure)
                )
                rows.append(RatioRow(f"{label}: {_FIGURE_LABELS[figure]}", mode, ratio,
                                     lower_is_better=figure != "rps"))  # fmt: skip
    return rows


_FIGURE_LABELS = {"rps": "req/s", "p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio_text(ratio: Ratio) -> tuple[str, str]:
    if math.isnan(ratio.value):
        return "-", "-"
    interval = "-" if math.isnan(ratio.low) else f"{ratio.low:.2f} to {ratio.high:.2f}"
    return f"{ratio.value:.2f}", interval


def headline(comparison: Comparison) -> list[str]:
    """Plain sentences: each mode against the baseline, on what matters most."""
    sentences = []
    base = comparison.baseline
    add_key = ("cart", HEADLINE_ENDPOINT)
    md_key = (MASTER_DATA, HEADLINE_ENDPOINT)
    for mode in comparison.mode_names:
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
        parts = []
        for what, ratio, lower_better in (
            ("throughput of the whole flow", throughput, False),
            ("median add-item latency", add_p50, True),
            ("median master-data call inside add-item", md_p50, True),
        ):
            value, interval = _ratio_text(ratio)
            parts.append(f"{what} x{value} (95 % CI {interval}): {ratio.describe(lower_better)}")
        sentences.append(f"**{mode}** against **{base}**: " + "; ".join(parts) + ".")
    return sentences


def _endpoint_table(comparison: Comparison, kind: str) -> list[list[str]]:
    table = []
    for key in _keys(comparison):
        if key[0] != kind:
            continue
        for mode in comparison.mode_names:
            row = [key[1], mode]
            figures = ("rps", "p50_ms", "p95_ms", "p99_ms") if kind == "cart" else (
                "p50_ms", "p95_ms", "p99_ms", "average_ms"
            )  # fmt: skip
            row += [_fmt(_median(_series(comparison, mode, key, f))) for f in figures]
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
        value, interval = _ratio_text(row.ratio)
        table.append(
            [row.figure, row.mode, value, interval, row.ratio.describe(row.lower_is_better)]
        )
    return table


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CHARTS = ("throughput.png", "latency.png", "masterdata.png", "ratios.png")


def _charts(comparison: Comparison, folder: Path) -> None:
    modes = comparison.mode_names
    cart_keys = [k for k in _keys(comparison) if k[0] == "cart"]
    md_keys = [k for k in _keys(comparison) if k[0] == MASTER_DATA]
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
    fig.tight_layout()
    fig.savefig(folder / "throughput.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, figure in zip(axes, ("p50_ms", "p95_ms", "p99_ms"), strict=True):
        grouped(ax, cart_keys, figure, f"{_FIGURE_LABELS[figure]} latency, ms")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, figure in zip(axes, ("p50_ms", "p95_ms", "p99_ms"), strict=True):
        grouped(ax, md_keys, figure, f"master-data call {_FIGURE_LABELS[figure]}, ms (cart's view)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "masterdata.png", dpi=110)
    plt.close(fig)

    picked = [
        row
        for row in ratio_rows(comparison)
        if row.figure.startswith("all cart endpoints")
        or row.figure.endswith(f"{HEADLINE_ENDPOINT}: p50")
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
    ax.set_title(f"Ratio to {comparison.baseline} with 95 % CI (1 = same)", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "ratios.png", dpi=110)
    plt.close(fig)


def write_report(comparison: Comparison, folder: Path) -> Path:
    """Writes every file of the report into `folder`; returns the Markdown summary's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(asdict(comparison), indent=2, default=str))
    _charts(comparison, folder)
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
    sections: list[tuple[str, str, list[str], list[list[str]]]] = [
        ("Modes", "", ["mode", "cart configuration"], mode_rows),
        ("Load", "", ["setting", "value"], settings_rows),
        (
            "Per endpoint (medians over rounds)",
            "",
            CART_HEADER,
            _endpoint_table(comparison, "cart"),
        ),
        (
            "master-data calls as cart saw them (Server-Timing)",
            "Time cart spent waiting for master-data inside each call, per transport.",
            MD_HEADER,
            _endpoint_table(comparison, MASTER_DATA),
        ),
        (
            f"Ratios to {comparison.baseline} (geometric mean over rounds, 95 % CI)",
            "Paired by round (the modes ran interleaved). For req/s above 1 is better; for "
            "latencies below 1 is better. An interval that contains 1 is noise.",
            RATIO_HEADER,
            _ratio_table(comparison),
        ),
        ("Environment", "", ["", ""], env_rows),
    ]
    title = f"HTTP vs gRPC comparison, {comparison.started_at}"
    md = [f"# {title}", "", f"Command: `{comparison.command}`", "", "## Headline", ""]
    md += [f"- {sentence}" for sentence in headline(comparison)]
    for heading, note, header, rows in sections:
        md += ["", f"## {heading}", ""] + ([note, ""] if note else [])
        md.append(_markdown_table(header, rows))
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
    for heading, note, header, rows in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if note:
            body.append(f"<p>{html.escape(note)}</p>")
        body.append(_html_table(header, rows))
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


def load_comparison(path: Path) -> Comparison:
    """A comparison back from its results.json (to render a report again)."""
    raw = json.loads(path.read_text())
    runs = [
        RunResult(
            run["mode"],
            run["round"],
            [EndpointStats(**row) for row in run["rows"]],
            run.get("cpu_seconds", {}),
            run.get("database_commands"),
        )
        for run in raw.pop("runs")
    ]
    return Comparison(**raw, runs=runs)


def main(argv: list[str] | None = None) -> int:
    """``python -m pos_loadtest.report FOLDER``: renders FOLDER/results.json again."""
    import sys

    folder = Path((argv if argv is not None else sys.argv[1:])[0])
    summary = write_report(load_comparison(folder / "results.json"), folder)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
