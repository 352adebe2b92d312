"""What the load tools' commands (compare, profile, the floor bench) share: a folder for a
run's process logs, deleted after a good run and named after a failed one, and how a run's
end becomes the command's exit status."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

INTERRUPTED = "interrupted; every process started was stopped"


@dataclass
class RunLogs:
    folder: Path
    keep: bool = False
    """Kept after a run that ended well too (one whose findings the logs explain)."""


@contextmanager
def run_logs(prefix: str) -> Iterator[RunLogs]:
    logs = RunLogs(Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield logs
    except BaseException:
        print(f"logs of this run are in {logs.folder}", file=sys.stderr)
        raise
    if logs.keep:
        print(f"logs of this run are in {logs.folder}", file=sys.stderr)
    else:
        shutil.rmtree(logs.folder, ignore_errors=True)


def exit_status(run: Callable[[], object], refused: type[Exception]) -> int:
    """0 when `run()` ends; 2 when it is `refused` (said why); 130 when interrupted."""
    try:
        run()
    except refused as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    return 0
