from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaxType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAX_TYPE_UNSPECIFIED: _ClassVar[TaxType]
    TAX_TYPE_EXTERNAL: _ClassVar[TaxType]
    TAX_TYPE_INTERNAL: _ClassVar[TaxType]
    TAX_TYPE_EXEMPT: _ClassVar[TaxType]

class RoundingMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUNDING_METHOD_UNSPECIFIED: _ClassVar[RoundingMethod]
    ROUNDING_METHOD_HALF_UP: _ClassVar[RoundingMethod]
    ROUNDING_METHOD_DOWN: _ClassVar[RoundingMethod]
    ROUNDING_METHOD_UP: _ClassVar[RoundingMethod]
    ROUNDING_METHOD_HALF_EVEN: _ClassVar[RoundingMethod]
TAX_TYPE_UNSPECIFIED: TaxType
TAX_TYPE_EXTERNAL: TaxType
TAX_TYPE_INTERNAL: TaxType
TAX_TYPE_EXEMPT: TaxType
ROUNDING_METHOD_UNSPECIFIED: RoundingMethod
ROUNDING_METHOD_HALF_UP: RoundingMethod
ROUNDING_METHOD_DOWN: RoundingMethod
ROUNDING_METHOD_UP: RoundingMethod
ROUNDING_METHOD_HALF_EVEN: RoundingMethod

class TaxRule(_message.Message):
    __slots__ = ("tax_code", "name", "tax_type", "rate", "rounding_digits", "rounding_method")
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAX_TYPE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_DIGITS_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_METHOD_FIELD_NUMBER: _ClassVar[int]
    tax_code: str
    name: str
    tax_type: TaxType
    rate: str
    rounding_digits: int
    rounding_method: RoundingMethod
    def __init__(self, tax_code: _Optional[str] = ..., name: _Optional[str] = ..., tax_type: _Optional[_Union[TaxType, str]] = ..., rate: _Optional[str] = ..., rounding_digits: _Optional[int] = ..., rounding_method: _Optional[_Union[RoundingMethod, str]] = ...) -> None: ...
