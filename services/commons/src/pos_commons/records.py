"""What both services' stored and returned models share: camelCase on the wire, snake_case in
MongoDB, millisecond timestamps, and the vocabulary of tax rules."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


def now_ms() -> datetime:
    """Now in UTC, truncated to the millisecond MongoDB stores, so reads equal writes."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CamelModel(BaseModel):
    """Stored by field name (snake_case), serialized by alias (camelCase); reads either."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )


class TaxType(StrEnum):
    """How a tax applies to the net amount of its lines."""

    EXTERNAL = "external"
    INTERNAL = "internal"
    EXEMPT = "exempt"


class RoundingMethod(StrEnum):
    HALF_UP = "halfUp"
    DOWN = "down"
    UP = "up"
    HALF_EVEN = "halfEven"
