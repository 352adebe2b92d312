"""cart's code as of an older git ref, checked out beside the current one for a before/after
comparison in one run (`--baseline-ref`).

A temporary `git worktree` of the ref (detached, no branch made), removed when the comparison
ends, however it ends. cart runs from it with the same interpreter and installed packages,
its own `services/cart/src` and `services/commons/src` first on PYTHONPATH; master-data and
everything else stay the current code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pos_devstack.paths import REPO_ROOT
from pos_devstack.stack import pythonpath_first

CODE_FOLDERS = ("services/cart/src", "services/commons/src")
"""What a baseline cart imports from its checkout: cart itself and the commons it builds on."""


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def resolve(ref: str) -> str:
    """The commit a ref names (fails early on a typo)."""
    return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


@contextmanager
def checkout(ref: str, parent: Path) -> Iterator[Path]:
    """A worktree of `ref` under `parent`, removed on the way out."""
    commit = resolve(ref)
    path = parent / f"baseline-{commit[:12]}"
    _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        try:
            # --force: the run left bytecode caches in it.
            _git("worktree", "remove", "--force", str(path))
        except RuntimeError:
            shutil.rmtree(path, ignore_errors=True)
            _git("worktree", "prune")


def import_paths(worktree: Path) -> list[Path]:
    paths = [worktree / folder for folder in CODE_FOLDERS]
    missing = [str(path) for path in paths if not path.is_dir()]
    if missing:
        raise RuntimeError(f"this ref has no {', '.join(missing)}: not a layout cart runs from")
    return paths


def check_imports_from(worktree: Path, paths: list[Path]) -> None:
    """Proves that a cart started with `paths` runs the checkout's code, not the installed one."""
    probe = "import cart, pos_commons; print(cart.__file__); print(pos_commons.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath_first(paths)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cart's code of the baseline does not import: {result.stderr}")
    for module_file in result.stdout.split():
        if not Path(module_file).resolve().is_relative_to(worktree.resolve()):
            raise RuntimeError(f"the baseline cart would import {module_file}, not its checkout's")
