"""What a run ran on, so runs can be compared later."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = (
    "grpcio", "protobuf", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic",
    "pymongo", "aiohttp", "httpx", "httpx-aiohttp", "locust", "secantusdb",
)  # fmt: skip


def describe_environment(database: str) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpuCount": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "packages": versions,
        "database": database,
    }
