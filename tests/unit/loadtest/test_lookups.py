"""master-data calls and the item cache's answers, read from /metrics texts as the services
write them (prometheus_client's format), and the histogram estimates of the feed's lag."""

from __future__ import annotations

import json
import math

import pytest

from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    item_service_pb2,
    payment_method_service_pb2,
)
from pos_devstack.paths import REPO_ROOT
from pos_loadtest.probes.lookups import (
    LOOKUP_METHODS,
    LOOKUP_ROUTES,
    hit_ratio,
    item_cache_lookups,
    master_data_calls,
)
from pos_loadtest.probes.prometheus import Exposition, Histogram, bucket_quantile

ITEM_DETAILS = "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails"
MASTER_DATA = f"""\
# HELP http_request_duration_seconds HTTP request latency by route template.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{le="+Inf",method="GET",route="{ITEM_DETAILS}",status="200"}} 7.0
http_request_duration_seconds_count{{method="GET",route="{ITEM_DETAILS}",status="200"}} 7.0
http_request_duration_seconds_sum{{method="GET",route="{ITEM_DETAILS}",status="200"}} 0.1
http_request_duration_seconds_count{{method="GET",route="{ITEM_DETAILS}/{{item_code}}",status="404"}} 2.0
http_request_duration_seconds_count{{method="GET",route="/api/v1/tenants/{{tenant_id}}/paymentMethods/{{code}}",status="200"}} 3.0
http_request_duration_seconds_count{{method="PATCH",route="/api/v1/tenants/{{tenant_id}}/paymentMethods/{{code}}",status="200"}} 100.0
http_request_duration_seconds_count{{method="GET",route="/api/v1/tenants/{{tenant_id}}/catalogFeed",status="200"}} 100.0
http_request_duration_seconds_count{{method="GET",route="/metrics",status="200"}} 100.0
# HELP grpc_server_handled_total gRPC calls answered by master-data, by method and status.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{{code="OK",method="BatchGetItemDetails"}} 11.0
grpc_server_handled_total{{code="NOT_FOUND",method="GetPaymentMethod"}} 1.0
grpc_server_handled_total{{code="OK",method="WatchCatalog"}} 100.0
# HELP grpc_server_handled_created gRPC calls answered by master-data, by method and status.
# TYPE grpc_server_handled_created gauge
grpc_server_handled_created{{code="OK",method="BatchGetItemDetails"}} 1.7e+09
"""  # noqa: E501 - as the service writes it
CART = """\
# HELP item_cache_hits_total Lookups the item cache answered.
# TYPE item_cache_hits_total counter
item_cache_hits_total 90.0
# HELP item_cache_misses_total Lookups the item cache could not answer.
# TYPE item_cache_misses_total counter
item_cache_misses_total 10.0
# HELP catalog_feed_lag_seconds From a change's time in master-data's database to cart applying it.
# TYPE catalog_feed_lag_seconds histogram
catalog_feed_lag_seconds_bucket{le="0.005",transport="grpc"} 0.0
catalog_feed_lag_seconds_bucket{le="0.01",transport="grpc"} 4.0
catalog_feed_lag_seconds_bucket{le="0.025",transport="grpc"} 10.0
catalog_feed_lag_seconds_bucket{le="+Inf",transport="grpc"} 10.0
catalog_feed_lag_seconds_count{transport="grpc"} 10.0
catalog_feed_lag_seconds_sum{transport="grpc"} 0.12
"""


def test_master_data_calls_are_the_lookups_of_both_transports_whatever_their_status() -> None:
    # 7 batches + 2 single items (404s count: master-data answered) + 3 payment methods over
    # HTTP; 11 batches + 1 payment method over gRPC. Writes, the feed and /metrics are not.
    assert master_data_calls(Exposition.parse(MASTER_DATA)) == {"calls": 24.0}


def test_a_master_data_without_grpc_calls_yet_counts_its_http_ones() -> None:
    http_only = MASTER_DATA.split("# HELP grpc_server_handled_total")[0]
    assert master_data_calls(Exposition.parse(http_only)) == {"calls": 12.0}
    assert master_data_calls(Exposition.parse("")) is None


def test_the_item_cache_counts_and_their_ratio() -> None:
    counts = item_cache_lookups(Exposition.parse(CART))
    assert counts == {"hits": 90.0, "misses": 10.0}
    assert hit_ratio(counts["hits"], counts["misses"]) == pytest.approx(0.9)
    # cart with USE_ITEM_CACHE=false exposes no cache counters: nothing to divide.
    assert item_cache_lookups(Exposition.parse(MASTER_DATA)) is None
    assert hit_ratio(None, None) is None
    assert hit_ratio(0.0, 0.0) is None


def test_the_routes_counted_are_master_data_lookups_in_its_openapi_document() -> None:
    document = REPO_ROOT / "docs" / "openapi" / "master-data.json"
    paths = json.loads(document.read_text())["paths"]
    for route in LOOKUP_ROUTES:
        assert "get" in paths.get(route, {}), route


def test_the_grpc_methods_counted_are_the_lookup_rpcs() -> None:
    services = [
        item_service_pb2.DESCRIPTOR.services_by_name["ItemService"],
        payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"],
    ]
    assert {method.name for service in services for method in service.methods} == LOOKUP_METHODS


def test_a_histogram_is_read_grown_and_estimated_as_prometheus_does() -> None:
    lag = Exposition.parse(CART).histogram("catalog_feed_lag_seconds")
    assert lag is not None
    assert lag.count == 10
    assert lag.mean == pytest.approx(0.012)
    # Half of 10 is the 5th: the first of 6 in the 10-25 ms bucket, linear within it.
    assert lag.quantile(0.5) == pytest.approx(0.01 + 0.015 / 6)
    assert lag.quantile(0.2) == pytest.approx(0.005 + 0.005 * 2 / 4)
    grown = lag.minus(
        Histogram(((0.005, 0.0), (0.01, 4.0), (0.025, 4.0), (math.inf, 4.0)), 4, 0.02)
    )
    assert grown.buckets == ((0.005, 0.0), (0.01, 0.0), (0.025, 6.0), (math.inf, 6.0))
    assert grown.mean == pytest.approx(0.1 / 6)
    assert lag.plus(lag).count == 20
    assert lag.plus(lag).quantile(0.5) == lag.quantile(0.5)


def test_a_quantile_in_the_open_bucket_is_the_largest_bound_and_none_is_nan() -> None:
    assert bucket_quantile(0.99, ((0.1, 1.0), (1.0, 1.0), (math.inf, 5.0))) == 1.0
    assert math.isnan(bucket_quantile(0.5, ((0.1, 0.0), (math.inf, 0.0))))
    assert math.isnan(Histogram((), 0, 0).mean)
    assert Exposition.parse(CART).histogram("absent") is None
