import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from pos_commons.grpc_stubs.pos.masterdata.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemDetail(_message.Message):
    __slots__ = ("item_code", "store_code", "description", "short_description", "category_code", "tax_code", "unit_price", "store_price", "effective_price", "is_discount_restricted", "is_deleted", "tax_rule", "created_at", "updated_at")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SHORT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_CODE_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    STORE_PRICE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_PRICE_FIELD_NUMBER: _ClassVar[int]
    IS_DISCOUNT_RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    IS_DELETED_FIELD_NUMBER: _ClassVar[int]
    TAX_RULE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    store_code: str
    description: str
    short_description: str
    category_code: str
    tax_code: str
    unit_price: str
    store_price: str
    effective_price: str
    is_discount_restricted: bool
    is_deleted: bool
    tax_rule: _common_pb2.TaxRule
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, item_code: _Optional[str] = ..., store_code: _Optional[str] = ..., description: _Optional[str] = ..., short_description: _Optional[str] = ..., category_code: _Optional[str] = ..., tax_code: _Optional[str] = ..., unit_price: _Optional[str] = ..., store_price: _Optional[str] = ..., effective_price: _Optional[str] = ..., is_discount_restricted: _Optional[bool] = ..., is_deleted: _Optional[bool] = ..., tax_rule: _Optional[_Union[_common_pb2.TaxRule, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetItemDetailRequest(_message.Message):
    __slots__ = ("tenant_id", "store_code", "item_code")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    store_code: str
    item_code: str
    def __init__(self, tenant_id: _Optional[str] = ..., store_code: _Optional[str] = ..., item_code: _Optional[str] = ...) -> None: ...

class GetItemDetailResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: ItemDetail
    def __init__(self, item: _Optional[_Union[ItemDetail, _Mapping]] = ...) -> None: ...

class BatchGetItemDetailsRequest(_message.Message):
    __slots__ = ("tenant_id", "store_code", "item_codes")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODES_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    store_code: str
    item_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., store_code: _Optional[str] = ..., item_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetItemDetailsResponse(_message.Message):
    __slots__ = ("items", "not_found_item_codes")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_ITEM_CODES_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemDetail]
    not_found_item_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[_Union[ItemDetail, _Mapping]]] = ..., not_found_item_codes: _Optional[_Iterable[str]] = ...) -> None: ...
