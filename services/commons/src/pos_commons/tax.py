"""The vocabulary of tax rules, said once for both services and both transports: the enums,
their protobuf counterparts in the contract, and the shape of a rule as it travels with an
item."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from pos_commons.grpc_stubs.pos.masterdata.v1 import common_pb2
from pos_commons.models import CamelModel
from pos_commons.money import Percentage


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


TAX_TYPE_MESSAGES: dict[TaxType, common_pb2.TaxType] = {
    TaxType.EXTERNAL: common_pb2.TAX_TYPE_EXTERNAL,
    TaxType.INTERNAL: common_pb2.TAX_TYPE_INTERNAL,
    TaxType.EXEMPT: common_pb2.TAX_TYPE_EXEMPT,
}
ROUNDING_METHOD_MESSAGES: dict[RoundingMethod, common_pb2.RoundingMethod] = {
    RoundingMethod.HALF_UP: common_pb2.ROUNDING_METHOD_HALF_UP,
    RoundingMethod.DOWN: common_pb2.ROUNDING_METHOD_DOWN,
    RoundingMethod.UP: common_pb2.ROUNDING_METHOD_UP,
    RoundingMethod.HALF_EVEN: common_pb2.ROUNDING_METHOD_HALF_EVEN,
}
# The way back; UNSPECIFIED has no entry, so a message without a value is a bad answer.
TAX_TYPES = {message: value for value, message in TAX_TYPE_MESSAGES.items()}
ROUNDING_METHODS = {message: value for value, message in ROUNDING_METHOD_MESSAGES.items()}


class TaxRuleTerms(CamelModel):
    """What a tax rule says: the rule an item carries in master-data's answer and a cart line
    keeps. master-data's stored rule adds its timestamps."""

    model_config = ConfigDict(frozen=True)

    tax_code: str
    name: str
    tax_type: TaxType
    rate: Percentage
    rounding_digits: int
    rounding_method: RoundingMethod
