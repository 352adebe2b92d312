import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from pos_commons.grpc_stubs.pos.masterdata.v1 import common_pb2 as _common_pb2
from pos_commons.grpc_stubs.pos.masterdata.v1 import payment_method_service_pb2 as _payment_method_service_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CatalogChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATALOG_CHANGE_KIND_UNSPECIFIED: _ClassVar[CatalogChangeKind]
    CATALOG_CHANGE_KIND_ITEM: _ClassVar[CatalogChangeKind]
    CATALOG_CHANGE_KIND_STORE_PRICE: _ClassVar[CatalogChangeKind]
    CATALOG_CHANGE_KIND_TAX_RULE: _ClassVar[CatalogChangeKind]
    CATALOG_CHANGE_KIND_PAYMENT_METHOD: _ClassVar[CatalogChangeKind]
    CATALOG_CHANGE_KIND_STORE: _ClassVar[CatalogChangeKind]
CATALOG_CHANGE_KIND_UNSPECIFIED: CatalogChangeKind
CATALOG_CHANGE_KIND_ITEM: CatalogChangeKind
CATALOG_CHANGE_KIND_STORE_PRICE: CatalogChangeKind
CATALOG_CHANGE_KIND_TAX_RULE: CatalogChangeKind
CATALOG_CHANGE_KIND_PAYMENT_METHOD: CatalogChangeKind
CATALOG_CHANGE_KIND_STORE: CatalogChangeKind

class WatchCatalogRequest(_message.Message):
    __slots__ = ("tenant_id", "resume_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    resume_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class WatchCatalogResponse(_message.Message):
    __slots__ = ("token", "change", "heartbeat", "start_over")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    START_OVER_FIELD_NUMBER: _ClassVar[int]
    token: str
    change: CatalogChange
    heartbeat: FeedHeartbeat
    start_over: FeedStartOver
    def __init__(self, token: _Optional[str] = ..., change: _Optional[_Union[CatalogChange, _Mapping]] = ..., heartbeat: _Optional[_Union[FeedHeartbeat, _Mapping]] = ..., start_over: _Optional[_Union[FeedStartOver, _Mapping]] = ...) -> None: ...

class CatalogChange(_message.Message):
    __slots__ = ("kind", "key", "deleted", "item", "store_price", "tax_rule", "payment_method", "store", "changed_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    STORE_PRICE_FIELD_NUMBER: _ClassVar[int]
    TAX_RULE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: CatalogChangeKind
    key: CatalogKey
    deleted: bool
    item: CatalogItem
    store_price: CatalogStorePrice
    tax_rule: _common_pb2.TaxRule
    payment_method: _payment_method_service_pb2.PaymentMethod
    store: CatalogStore
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[CatalogChangeKind, str]] = ..., key: _Optional[_Union[CatalogKey, _Mapping]] = ..., deleted: _Optional[bool] = ..., item: _Optional[_Union[CatalogItem, _Mapping]] = ..., store_price: _Optional[_Union[CatalogStorePrice, _Mapping]] = ..., tax_rule: _Optional[_Union[_common_pb2.TaxRule, _Mapping]] = ..., payment_method: _Optional[_Union[_payment_method_service_pb2.PaymentMethod, _Mapping]] = ..., store: _Optional[_Union[CatalogStore, _Mapping]] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CatalogKey(_message.Message):
    __slots__ = ("item_code", "store_code", "tax_code", "payment_code")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    store_code: str
    tax_code: str
    payment_code: str
    def __init__(self, item_code: _Optional[str] = ..., store_code: _Optional[str] = ..., tax_code: _Optional[str] = ..., payment_code: _Optional[str] = ...) -> None: ...

class CatalogItem(_message.Message):
    __slots__ = ("item_code", "description", "short_description", "category_code", "tax_code", "unit_price", "is_discount_restricted", "is_deleted")
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SHORT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_CODE_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    IS_DISCOUNT_RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    IS_DELETED_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    description: str
    short_description: str
    category_code: str
    tax_code: str
    unit_price: str
    is_discount_restricted: bool
    is_deleted: bool
    def __init__(self, item_code: _Optional[str] = ..., description: _Optional[str] = ..., short_description: _Optional[str] = ..., category_code: _Optional[str] = ..., tax_code: _Optional[str] = ..., unit_price: _Optional[str] = ..., is_discount_restricted: _Optional[bool] = ..., is_deleted: _Optional[bool] = ...) -> None: ...

class CatalogStorePrice(_message.Message):
    __slots__ = ("store_code", "item_code", "price")
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    store_code: str
    item_code: str
    price: str
    def __init__(self, store_code: _Optional[str] = ..., item_code: _Optional[str] = ..., price: _Optional[str] = ...) -> None: ...

class CatalogStore(_message.Message):
    __slots__ = ("store_code", "name", "is_active")
    STORE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    store_code: str
    name: str
    is_active: bool
    def __init__(self, store_code: _Optional[str] = ..., name: _Optional[str] = ..., is_active: _Optional[bool] = ...) -> None: ...

class FeedHeartbeat(_message.Message):
    __slots__ = ("sent_at",)
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeedStartOver(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
