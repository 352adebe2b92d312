import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentMethod(_message.Message):
    __slots__ = ("payment_code", "name", "can_give_change", "can_exceed_balance", "is_active", "created_at", "updated_at")
    PAYMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAN_GIVE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    CAN_EXCEED_BALANCE_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_code: str
    name: str
    can_give_change: bool
    can_exceed_balance: bool
    is_active: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_code: _Optional[str] = ..., name: _Optional[str] = ..., can_give_change: _Optional[bool] = ..., can_exceed_balance: _Optional[bool] = ..., is_active: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPaymentMethodRequest(_message.Message):
    __slots__ = ("tenant_id", "payment_code")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    payment_code: str
    def __init__(self, tenant_id: _Optional[str] = ..., payment_code: _Optional[str] = ...) -> None: ...

class GetPaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...
