"""The one clock both services stamp records with."""

from __future__ import annotations

from datetime import UTC, datetime


def now_ms() -> datetime:
    """Now in UTC, truncated to the millisecond MongoDB stores, so reads equal writes."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
