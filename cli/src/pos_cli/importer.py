"""`posctl catalog import`: a file of one kind of record into master-data, in batches through
its bulk import (POST /api/v1/tenants/{tenantId}/bulk/{kind}).

Two passes over the file. The first validates every row before anything is written: the
file's own problems here (a line that is not CSV, JSON or UTF-8, a missing cell, a record
twice in the file), every rule of master-data there (the batches go with `dryRun=true`, so
codes, money and references are judged by the very rules of its API, in one place). The
second imports the rows that passed, unless `--dry-run`. Each batch is an idempotent upsert:
a file imported again changes nothing, and an import that was interrupted completes when it
runs again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos_cli.client import AdminClient
from pos_cli.files import FileFormat, Line, read
from pos_cli.kinds import Kind

DEFAULT_BATCH_ROWS = 1_000  # master-data's MAX_BULK_ROWS
BATCHES_IN_FLIGHT = 2
"""Batches sent before the first is answered: while the database writes one, master-data
validates the next (two processes, two cores); the answers are still taken in file order."""
PROBLEMS_KEPT = 1_000
"""Problems listed at most (all are counted): a file of bad rows must not fill the memory."""

Progress = Callable[[int], None]
"""Told the bytes of the file read so far."""


@dataclass(frozen=True)
class Problem:
    line: int
    code: str
    message: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.code}: {self.message}"


@dataclass
class Summary:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add_problem(self, problem: Problem) -> None:
        self.rejected += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    def counts(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.created} {verb}created, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )


def import_file(
    client: AdminClient,
    tenant_id: str,
    kind: Kind,
    path: Path,
    file_format: FileFormat,
    *,
    dry_run: bool,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
) -> Summary:
    checked = Summary(dry_run=True)
    bad_lines = _check(client, tenant_id, kind, path, file_format, batch_rows, checked, progress)
    if dry_run:
        return checked
    done = Summary(dry_run=False, problems=list(checked.problems), rejected=checked.rejected)
    with path.open("rb") as stream:
        lines, records = read(stream, file_format, kind)
        good = (line for line in records if line.number not in bad_lines and line.row is not None)
        for batch, answer in _sent(client, tenant_id, kind, _batches(good, batch_rows), False):
            _count(batch, answer, done)
            if progress:
                progress(lines.bytes_read)
    return done


def import_rows(
    client: AdminClient, tenant_id: str, kind: Kind, rows: list[dict[str, Any]]
) -> Summary:
    """Rows made by a program (the demo catalog), imported the same way, in batches."""
    summary = Summary(dry_run=False)
    numbered = (Line(number, row) for number, row in enumerate(rows, start=1))
    for batch, answer in _sent(client, tenant_id, kind, _batches(numbered, DEFAULT_BATCH_ROWS)):
        _count(batch, answer, summary)
    return summary


def _check(
    client: AdminClient,
    tenant_id: str,
    kind: Kind,
    path: Path,
    file_format: FileFormat,
    batch_rows: int,
    summary: Summary,
    progress: Progress | None,
) -> set[int]:
    """The first pass: every problem into `summary`; the lines not to import."""
    bad: set[int] = set()
    first_line_of: dict[tuple[Any, ...], int] = {}

    def readable() -> Iterator[Line]:
        for line in records:
            if line.row is None:
                bad.add(line.number)
                summary.add_problem(Problem(line.number, "UNREADABLE", line.problem or ""))
                continue
            key = kind.key_of(line.row)
            if key is not None:
                first = first_line_of.setdefault(key, line.number)
                if first != line.number:
                    bad.add(line.number)
                    summary.add_problem(Problem(
                        line.number, "DUPLICATE_ROW",
                        f"{'/'.join(map(str, key))} is on line {first} already", kind.key[-1],
                    ))  # fmt: skip
                    continue
            yield line

    with path.open("rb") as stream:
        lines, records = read(stream, file_format, kind)
        for batch, answer in _sent(client, tenant_id, kind, _batches(readable(), batch_rows), True):
            bad |= _count(batch, answer, summary)
            if progress:
                progress(lines.bytes_read)
    # A file's own problems are found a batch ahead of master-data's answers: listed by line.
    summary.problems.sort(key=lambda problem: problem.line)
    return bad


def _batches(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    batch: list[Line] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sent(
    client: AdminClient,
    tenant_id: str,
    kind: Kind,
    batches: Iterable[list[Line]],
    dry_run: bool = False,
) -> Iterator[tuple[list[Line], Any]]:
    """Each batch with master-data's answer to its bulk call, in order, BATCHES_IN_FLIGHT
    calls under way at a time (the batches are read as they are sent: memory stays bounded)."""
    path = f"/api/v1/tenants/{tenant_id}/bulk/{kind.name.value}"
    params = {"dryRun": "true"} if dry_run else None

    def post(batch: list[Line]) -> Any:
        return client.call("POST", path, params=params, json={"rows": [line.row for line in batch]})

    pending: deque[tuple[list[Line], Future[Any]]] = deque()
    with ThreadPoolExecutor(max_workers=BATCHES_IN_FLIGHT) as calls:
        for batch in batches:
            pending.append((batch, calls.submit(post, batch)))
            if len(pending) == BATCHES_IN_FLIGHT:
                first, answer = pending.popleft()
                yield first, answer.result()
        while pending:
            first, answer = pending.popleft()
            yield first, answer.result()


def _count(batch: list[Line], answer: Any, summary: Summary) -> set[int]:
    """One bulk call's outcomes counted into `summary`; the lines it rejected."""
    rejected: set[int] = set()
    for result in answer["rows"]:
        line = batch[result["index"]]
        outcome = result["outcome"]
        if outcome != "rejected":
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            continue
        rejected.add(line.number)
        error = result.get("error") or {}
        fields = (error.get("details") or {}).get("fields") or [{}]
        for problem in fields:  # one per column a row breaks (VALIDATION_FAILED lists them)
            message = problem.get("message") or error.get("message", "")
            column = problem.get("field") or _column_of(error)
            summary.add_problem(
                Problem(line.number, error.get("code", "REJECTED"), message, column)
            )
        summary.rejected -= len(fields) - 1  # a row counts once, whatever it breaks
    return rejected


def _column_of(error: dict[str, Any]) -> str | None:
    """The column a reference error is about (UNKNOWN_TAX_CODE names the tax code...)."""
    code = error.get("code", "")
    return {
        "UNKNOWN_CATEGORY": "categoryCode",
        "UNKNOWN_TAX_CODE": "taxCode",
        "STORE_NOT_FOUND": "storeCode",
        "ITEM_NOT_FOUND": "itemCode",
    }.get(code)
