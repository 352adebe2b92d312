"""Bytecode compiled once and kept between runs, outside the source trees.

With PYTHONDONTWRITEBYTECODE set (as in the environment these tests were written in), every
interpreter compiles every module it imports: each cart, master-data, posctl or locust process
a test starts spent about 2 s compiling before it served anything, and pytest itself as much
again. Under PYTHONPYCACHEPREFIX the bytecode goes to one folder mirroring the source paths
(never a __pycache__ beside a source), where every later process reads it; Python checks each
file against its source's modification time and size, so an edited source is compiled anew.
"""

from __future__ import annotations

import os
import sys

from pos_devstack.paths import REPO_ROOT

BYTECODE_CACHE = REPO_ROOT / ".venv" / "pycache"
"""Beside the interpreter it was compiled for (setup.sh makes a new .venv: a new cache)."""


def keep_bytecode() -> None:
    """This process's own later imports and every process it starts read and write bytecode
    under PYTHONPYCACHEPREFIX: the caller's, or BYTECODE_CACHE."""
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(BYTECODE_CACHE)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
