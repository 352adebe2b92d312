"""Limits both ends of the master-data contract agree on."""

from __future__ import annotations

MAX_ITEMS_PER_LOOKUP = 100
"""Item codes in one batch lookup (HTTP `?codes=`, gRPC BatchGetItemDetails): master-data
refuses more, cart splits a longer list into several calls."""
