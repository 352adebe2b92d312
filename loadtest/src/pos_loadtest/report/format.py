"""How the report's sections are written: numbers as text, tables in Markdown and HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from pos_loadtest.report.stats import Ratio, Summary

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Section:
    heading: str
    note: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    """Plain sentences after the table (Markdown emphasis allowed)."""


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def fmt_summary(summary: Summary, digits: int = 2, missing: str = NOT_MEASURED) -> str:
    """ "median (low to high)": the median over rounds and the 95 % interval of the mean."""
    if summary.rounds == 0:
        return missing
    if summary.rounds < 2:
        return fmt(summary.median, digits)
    return (
        f"{fmt(summary.median, digits)} ({fmt(summary.low, digits)} to {fmt(summary.high, digits)})"
    )


def ratio_text(ratio: Ratio) -> tuple[str, str]:
    if math.isnan(ratio.value):
        return "-", "-"
    interval = "-" if math.isnan(ratio.low) else f"{ratio.low:.2f} to {ratio.high:.2f}"
    return f"{ratio.value:.2f}", interval


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_section(section: Section) -> list[str]:
    lines = ["", f"## {section.heading}", ""]
    if section.note:
        lines += [section.note, ""]
    if section.header:
        lines.append(markdown_table(section.header, section.rows))
    for paragraph in section.paragraphs:
        lines += ["", paragraph]
    return lines


def html_section(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.heading)}</h2>"]
    if section.note:
        parts.append(f"<p>{html.escape(section.note)}</p>")
    if section.header:
        parts.append(html_table(section.header, section.rows))
    parts += [f"<p>{html.escape(p).replace('**', '')}</p>" for p in section.paragraphs]
    return "".join(parts)
