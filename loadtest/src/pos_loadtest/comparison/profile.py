"""Where a process spends its CPU under the comparison's load: a py-spy profile.

    scripts/profile.sh [--target cart|master-data|database] [--mode grpc] [--seconds 20] ...

Sets the system up as the comparison does (the same database state, catalog, terminals and
load), runs one mode for the warm-up and `--seconds`, and records the target process with
py-spy over exactly that window: a flame graph (`profile.svg`), the collapsed stacks
(`profile.txt`), and the top frames by self and by total samples (`top.txt`, printed too),
under loadtest/reports/profile-<time>/. The CPU-ms per request of the run is printed as in
the comparison (the sampler's own cost lands partly on the target: read it as a profile,
not as a measurement).

py-spy reads the target's memory: it needs ptrace permission over it (see _PTRACE_HELP).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess
from pos_loadtest.comparison.locust_run import LoadSettings
from pos_loadtest.comparison.measured_run import RunPlan, describe, measure
from pos_loadtest.comparison.modes import parse_mode
from pos_loadtest.comparison.profile_stacks import TopFrames, parse_collapsed, top_frames
from pos_loadtest.comparison.profile_stacks import describe as describe_top
from pos_loadtest.probes.database_operations import database_client
from pos_loadtest.run_logs import exit_status, run_logs
from pos_loadtest.stacks.comparison import running_stack

REPORTS_DIR = REPO_ROOT / "loadtest" / "reports"
TARGETS = ("cart", "master-data", "database")
PY_SPY = Path(sys.executable).parent / "py-spy"

_PTRACE_HELP = """py-spy could not read the target process: it needs ptrace permission over it.
Any one of these gives it:
  - run as root (or with CAP_SYS_PTRACE);
  - allow tracing of processes of the same user: sudo sysctl -w kernel.yama.ptrace_scope=0;
  - in a container: docker run --cap-add SYS_PTRACE ... (Kubernetes: securityContext.
    capabilities.add: [SYS_PTRACE]); a seccomp profile may also have to allow
    process_vm_readv and ptrace.
py-spy said:"""


class ProfilerError(RuntimeError):
    pass


def explain(stderr: str) -> str:
    """py-spy's failure, with what to do about it when it is a permission problem."""
    denied = ("Permission denied", "Operation not permitted", "EPERM", "ptrace")
    if any(word in stderr for word in denied):
        return f"{_PTRACE_HELP}\n{stderr.strip()}"
    return f"py-spy failed:\n{stderr.strip()}"


def check_permission(pid: int) -> None:
    """Fails early, before any load, if py-spy cannot read our processes."""
    result = subprocess.run(
        [str(PY_SPY), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise ProfilerError(explain(result.stderr or result.stdout))


@dataclass
class PySpyRecording:
    """A probe: records `target` with py-spy over the window. Two samplers run side by side,
    each without pausing the target (--nonblocking: two could not both stop it), one writing
    the flame graph and one the collapsed stacks."""

    target: str
    seconds: float
    rate: int
    folder: Path
    work: Path
    _samplers: list[ManagedProcess] = field(default_factory=list)

    @property
    def flamegraph(self) -> Path:
        return self.folder / "profile.svg"

    @property
    def collapsed(self) -> Path:
        return self.folder / "profile.txt"

    def open(self, pids: Mapping[str, int]) -> None:
        pid = pids[self.target]
        common = [
            "record", "--pid", str(pid), "--rate", str(self.rate),
            "--duration", str(math.ceil(self.seconds)), "--nonblocking", "--subprocesses",
            "--function",
        ]  # fmt: skip
        for output_format, output in (("flamegraph", self.flamegraph), ("raw", self.collapsed)):
            argv = [str(PY_SPY), *common, "--format", output_format, "--output", str(output)]
            sampler = ManagedProcess(
                f"py-spy-{output_format}",
                argv,
                env={},
                log_path=self.work / f"py-spy-{output_format}.log",
            ).start()
            self._samplers.append(sampler)

    def close(self) -> None:
        deadline = time.monotonic() + 60
        for sampler in self._samplers:
            try:
                code = sampler.wait_exit(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                sampler.stop()
                raise ProfilerError(f"py-spy did not finish:\n{sampler.log_tail()}") from None
            finally:
                sampler.stop()
            if code != 0:
                raise ProfilerError(explain(sampler.log_tail()))


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-profile", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--target", choices=TARGETS, default="cart")
    parser.add_argument("--mode", default="grpc", help="the cart configuration (see compare)")
    parser.add_argument("--seconds", type=float, default=20.0, help="recorded seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unrecorded seconds first")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--users", type=int, default=16, help="locust users = terminals")
    parser.add_argument("--items-per-cart", type=int, default=5)
    parser.add_argument("--catalog-size", type=int, default=100)
    parser.add_argument("--cancel-share", type=float, default=0.1)
    parser.add_argument("--think-time", type=float, default=0.0)
    parser.add_argument("--top", type=int, default=25, help="frames listed in each ranking")
    parser.add_argument("--out", type=Path, default=None, help="profile folder")
    options = parser.parse_args(argv)
    try:
        options.parsed_mode = parse_mode(options.mode)
    except ValueError as exc:
        parser.error(str(exc))
    if options.seconds <= 0 or options.users < 1 or options.rate < 1 or options.top < 1:
        parser.error("seconds, users, rate and top must be positive")
    return options


def run(options: argparse.Namespace) -> Path:
    started = datetime.now(UTC)
    folder: Path = options.out or REPORTS_DIR / f"profile-{started.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    with run_logs("profile-") as logs:
        top, recording = _record(options, folder, logs.folder, started)
    print(describe_top(top))
    print(f"\nflame graph: {recording.flamegraph}\nstacks:      {recording.collapsed}")
    return folder


def _record(
    options: argparse.Namespace, folder: Path, work: Path, started: datetime
) -> tuple[TopFrames, PySpyRecording]:
    load = LoadSettings.of(options)
    with (
        running_stack(work, terminals=options.users, catalog_size=options.catalog_size) as stack,
        closing(database_client(stack.uri)) as database,
    ):
        if options.target == "database" and stack.database is None:
            raise ProfilerError("the database behind MONGODB_URI is not a process started here")
        check_permission(stack.master.process.pid)
        recording = PySpyRecording(options.target, options.seconds, options.rate, folder, work)
        plan = RunPlan(options.parsed_mode, load, f"profile-{options.parsed_mode.name}")
        print(
            f"profiling {options.target} under {options.mode} for {options.seconds:g}s "
            f"(after {options.warmup:g}s of warm-up)",
            flush=True,
        )
        result = measure(stack, database, plan, extra_probes=[recording])
    print(describe(result), flush=True)
    top = top_frames(parse_collapsed(recording.collapsed.read_text().splitlines()), options.top)
    (folder / "top.txt").write_text(describe_top(top) + "\n")
    record = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "scripts/profile.sh " + " ".join(sys.argv[1:]),
        "target": options.target,
        "mode": options.mode,
        "seconds": options.seconds,
        "rate": options.rate,
        "run": asdict(result),
    }
    (folder / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return top, recording


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    return exit_status(lambda: run(options), ProfilerError)


if __name__ == "__main__":
    sys.exit(main())
