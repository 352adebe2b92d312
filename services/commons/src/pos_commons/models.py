"""The base of both services' stored and returned models: camelCase on the wire, snake_case in
MongoDB."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Stored by field name (snake_case), serialized by alias (camelCase); reads either."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )
