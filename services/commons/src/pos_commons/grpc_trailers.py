"""The part of the gRPC contract the .proto files do not say: how a failed call carries its
stable error code. master-data sets it on every error it returns; cart reads it."""

from __future__ import annotations

ERROR_CODE_KEY = "x-error-code"
"""Trailing metadata that carries the same stable error code the HTTP envelope would."""
