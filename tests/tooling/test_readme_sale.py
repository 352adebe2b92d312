"""The README's first command and its curl sale, as a new user runs them: the stack of
`scripts/start.sh` (the devstack's `up`, in a data folder of its own), the sale's commands
exactly as written, and every line they print compared with the comment under it. Then a
restart: the same demo key is printed, and still works.

How a comment under a command reads: `# text` is a line the command prints; `...` stands for
anything in between; a trailing `   (note)` is a note, not output; a comment indented further
(`#   (note)`) is a note too. Comments at the start of a paragraph are prose.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess, free_port

README = REPO_ROOT / "README.md"
_NOTE = re.compile(r"\s{3,}\(.*\)$")


@dataclass
class Step:
    commands: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)


def sale_steps() -> list[Step]:
    text = README.read_text()
    block = text.split("## A sale, with curl", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    steps: list[Step] = []
    for paragraph in block.split("\n\n"):
        current: Step | None = None
        for line in paragraph.splitlines():
            if line.startswith("#"):
                if current is None:
                    continue  # prose before the paragraph's first command
                comment = line[1:]
                if comment.startswith("  "):
                    continue  # an indented note
                current.expected.append(_NOTE.sub("", comment.strip()))
            else:
                if current is None or current.expected:
                    current = Step()
                    steps.append(current)
                current.commands.append(line)
    return steps


def _matches(expected: str, printed: str) -> bool:
    """`expected`'s pieces between `...` appear in `printed`, in order (all of it without)."""
    pieces = [piece.strip() for piece in expected.split("...")]
    if len(pieces) == 1:
        return printed.strip() == expected
    position = 0
    for piece in pieces:
        found = printed.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


@dataclass
class DevStack:
    process: ManagedProcess
    cart_url: str
    log: Path

    def printed(self, label: str) -> str:
        for line in reversed(self.log.read_text().splitlines()):
            if line.strip().startswith(label):
                return line.split()[-1]
        raise AssertionError(f"{label} not printed:\n{self.process.log_tail()}")


def _start(data_dir: Path, ports: dict[str, int], log: Path) -> DevStack:
    env = {
        "POS_DATA_DIR": str(data_dir),
        **{name: str(port) for name, port in ports.items()},
    }
    process = ManagedProcess(
        "devstack", [sys.executable, "-m", "pos_devstack.cli", "up"], env, log_path=log
    ).start()
    process.wait_until(lambda: "Ctrl-C stops" in log.read_text(), 180, "printing its summary")
    return DevStack(process, f"http://127.0.0.1:{ports['CART_HTTP_PORT']}", log)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {
        name: free_port()
        for name in ("MASTER_DATA_HTTP_PORT", "GRPC_PORT", "CART_HTTP_PORT", "SECANTUS_PORT")
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devstack-data")


@pytest.fixture(scope="module")
def first_run(data_dir: Path, ports: dict[str, int]) -> Iterator[DevStack]:
    stack = _start(data_dir, ports, data_dir.parent / "devstack-1.log")
    yield stack
    stack.process.stop()


def _run_sale(cart_url: str, api_key: str, steps: list[Step]) -> str:
    script = ["set -e", f"KEY={api_key}", f"CART={cart_url}/api/v1"]
    for number, step in enumerate(steps):
        commands = [c for c in step.commands if not c.startswith(("KEY=", "CART="))]
        script += [f"echo '@@step {number}'", *commands]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_the_readme_sale_prints_what_its_comments_say(first_run: DevStack) -> None:
    steps = sale_steps()
    assert len(steps) >= 10
    assert sum(len(step.expected) for step in steps) >= 12
    output = _run_sale(first_run.cart_url, first_run.printed("X-API-Key"), steps)
    printed = {
        int(chunk.split("\n", 1)[0]): chunk.split("\n", 1)[1] if "\n" in chunk else ""
        for chunk in output.split("@@step ")[1:]
    }
    for number, step in enumerate(steps):
        lines = [line for line in printed[number].splitlines() if line.strip()]
        if step.expected and any("..." in expected for expected in step.expected):
            joined = "\n".join(lines)
            for expected in step.expected:
                assert _matches(expected, joined), (step.commands[0], expected, joined[:500])
        else:
            assert lines == step.expected, (step.commands[0], step.expected, lines)


@pytest.mark.drill
def test_a_restart_prints_the_same_demo_key_and_it_works(
    first_run: DevStack, data_dir: Path, ports: dict[str, int]
) -> None:
    key = first_run.printed("X-API-Key")
    labels = ("ADMIN_TOKEN", "CART_ADMIN_TOKEN", "SERVICE_TOKEN")
    tokens = tuple(first_run.printed(label) for label in labels)
    assert len(set(tokens)) == len(labels), "master-data's and cart's admin tokens must differ"
    first_run.process.stop()
    second = _start(data_dir, ports, data_dir.parent / "devstack-2.log")
    try:
        assert second.printed("X-API-Key") == key
        assert tuple(second.printed(label) for label in labels) == tokens
        created = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                f"{second.cart_url}/api/v1/carts",
                "-H",
                f"X-API-Key: {key}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert created.stdout == "201"
    finally:
        second.process.stop()
