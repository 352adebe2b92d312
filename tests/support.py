"""Helpers the tests share (not fixtures): the running stack, envelope assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pos_devstack.stack import MasterDataProcess, Tokens


@dataclass(frozen=True)
class Stack:
    mongodb_uri: str
    tokens: Tokens
    master_data: MasterDataProcess
    log_dir: Path


def data(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope, after checking status and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is True, body
    assert isinstance(body["requestId"], str)
    assert body["requestId"]
    return body["data"]


def error_code(response: httpx.Response, status: int) -> str:
    """The error code of an error envelope, after checking status and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is False, body
    assert set(body) == {"success", "error", "requestId"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    code: str = body["error"]["code"]
    return code
