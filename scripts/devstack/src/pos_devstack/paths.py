"""Where things are in the repository and on disk, for every dev tool."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA_DIR = Path(os.environ.get("POS_DATA_DIR") or REPO_ROOT / ".data")
"""The dev stack's data (embedded database, tokens, the demo key); POS_DATA_DIR moves it."""
