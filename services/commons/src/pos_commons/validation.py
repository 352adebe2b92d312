"""Identifier formats shared by both services, for path parameters, bodies and gRPC requests.

Tenant ids become part of a MongoDB database name, so they are the strictest: lower case only
(MongoDB refuses two database names that differ only in case), digits, '_' and '-'.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

TENANT_ID_REGEX = r"^[a-z0-9][a-z0-9_-]{0,31}$"
CODE_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RESUME_TOKEN_REGEX = r"^[0-9A-Fa-f]{2,1024}$"  # noqa: S105 - a pattern, not a secret
"""A catalog feed token: the database's resume token, hex (cart keeps it as it came)."""

_TENANT_ID = re.compile(TENANT_ID_REGEX)
_CODE = re.compile(CODE_REGEX)
_RESUME_TOKEN = re.compile(RESUME_TOKEN_REGEX)

TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_REGEX)]
Code = Annotated[str, StringConstraints(pattern=CODE_REGEX)]


def is_tenant_id(value: str) -> bool:
    return _TENANT_ID.fullmatch(value) is not None


def is_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


def is_resume_token(value: str) -> bool:
    return _RESUME_TOKEN.fullmatch(value) is not None
