"""The part of the gRPC contract the .proto files do not say: metadata both sides agree on.
master-data sets the error code on every error it returns and reads the freshness request;
cart reads the one and sends the other."""

from __future__ import annotations

ERROR_CODE_KEY = "x-error-code"
"""Trailing metadata that carries the same stable error code the HTTP envelope would."""

CACHE_CONTROL_KEY = "cache-control"
NO_CACHE = "no-cache"
"""Request metadata (and HTTP header) `cache-control: no-cache`: answer from the database, not
from master-data's cache. cart asks it when it fills its own cache (docs/architecture.md)."""


def wants_fresh(cache_control: str | None) -> bool:
    """Whether a `cache-control` value (header or metadata) has the no-cache directive."""
    if not cache_control:
        return False
    return any(part.strip().lower() == NO_CACHE for part in cache_control.split(","))
