"""Catalog files: CSV (a header row of column names, then one record per row) and JSON Lines
(one JSON object per line), read as rows with their line numbers and written back the same way.

Read in a stream: a file of any size takes the memory of one line. A CSV cell is text; cells
of boolean and integer columns become JSON booleans and numbers, an empty cell leaves the
column out (its default applies, or its absence is reported), anything else goes to
master-data as written, which validates it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from pos_cli.kinds import Kind

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def of(cls, path: Path) -> FileFormat:
        return cls.JSONL if path.suffix.lower() in (".jsonl", ".ndjson") else cls.CSV


@dataclass(frozen=True)
class Line:
    """One record of a file: its fields, or why it cannot be read."""

    number: int
    row: dict[str, Any] | None
    problem: str | None = None
    column: str | None = None


class _Lines:
    """A binary file's lines, decoded as UTF-8 one by one (so a bad byte is reported with its
    line), counting the bytes read for a progress bar."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.bytes_read = 0
        self.undecodable: dict[int, str] = {}
        self._number = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self._number += 1
            self.bytes_read += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.undecodable[self._number] = (
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line"
                )
                yield "\n"


def read(stream: IO[bytes], file_format: FileFormat, kind: Kind) -> tuple[_Lines, Iterator[Line]]:
    lines = _Lines(stream)
    if file_format is FileFormat.JSONL:
        return lines, _jsonl(lines)
    return lines, _csv(lines, kind)


def _jsonl(lines: _Lines) -> Iterator[Line]:
    for number, text in enumerate(lines, start=1):
        if number in lines.undecodable:
            yield Line(number, None, lines.undecodable[number])
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Line(number, None, f"not JSON: {exc.msg} at character {exc.pos + 1}")
            continue
        if not isinstance(value, dict):
            yield Line(number, None, "not a JSON object")
            continue
        yield Line(number, value)


def _csv(lines: _Lines, kind: Kind) -> Iterator[Line]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield Line(1, None, f"not CSV: {exc}")
        return
    if 1 in lines.undecodable:
        yield Line(1, None, lines.undecodable[1])
        return
    unknown = [name for name in header if name not in kind.column_names]
    if unknown:
        yield Line(1, None, f"unknown columns {unknown}; the columns are {kind.column_names}")
        return
    types = {column.name: column.json_type for column in kind.columns}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Line(reader.line_num, None, f"not CSV: {exc}")
            continue
        number = reader.line_num
        if number in lines.undecodable:
            yield Line(number, None, lines.undecodable[number])
            continue
        if not cells:
            continue
        if len(cells) != len(header):
            yield Line(number, None, f"has {len(cells)} cells; the header has {len(header)}")
            continue
        row = {name: _cell(value, types[name]) for name, value in zip(header, cells, strict=True)
               if value != ""}  # fmt: skip
        yield Line(number, row)


def _cell(value: str, json_type: str | None) -> Any:
    if json_type == "boolean":
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    elif json_type == "integer" and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def write(out: IO[str], file_format: FileFormat, kind: Kind, rows: Iterable[dict[str, Any]]) -> int:
    """Writes `rows` (API records: only the kind's columns are kept); the count written."""
    count = 0
    names = kind.column_names
    if file_format is FileFormat.JSONL:
        for row in rows:
            out.write(json.dumps({name: row[name] for name in names if name in row}) + "\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_text(row.get(name)) for name in names])
        count += 1
    return count


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
