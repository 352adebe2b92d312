"""What cart asked of master-data, counted on master-data's side, and what cart's item cache
answered instead, from each service's /metrics (pos_loadtest.probes.prometheus).

A master-data call is one item-detail or payment-method request, over either transport: the
HTTP routes by their templates (http_request_duration_seconds, GET, any status) and the gRPC
methods (grpc_server_handled_total, any status). Counted where they are answered, so the
measure is the same whatever code cart runs. The catalog feed's stream is not a call: it is
one long request per cart process, not per scan.
"""

from __future__ import annotations

from pos_loadtest.probes.prometheus import Exposition, Labels

HTTP_FAMILY = "http_request_duration_seconds"
GRPC_FAMILY = "grpc_server_handled"
LOOKUP_ROUTES = frozenset(
    {
        "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails",
        "/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails/{item_code}",
        "/api/v1/tenants/{tenant_id}/paymentMethods/{code}",
    }
)
LOOKUP_METHODS = frozenset({"GetItemDetail", "BatchGetItemDetails", "GetPaymentMethod"})

CALLS = "calls"
HITS = "hits"
MISSES = "misses"


def _http_lookup(labels: Labels) -> bool:
    return labels.get("method") == "GET" and labels.get("route") in LOOKUP_ROUTES


def _grpc_lookup(labels: Labels) -> bool:
    return labels.get("method") in LOOKUP_METHODS


def master_data_calls(metrics: Exposition) -> dict[str, float] | None:
    """master-data's lookups answered so far, HTTP and gRPC together."""
    http = metrics.total(HTTP_FAMILY, f"{HTTP_FAMILY}_count", _http_lookup)
    if http is None:
        return None
    # A gRPC counter with no call yet may have no sample: none answered.
    grpc = metrics.total(GRPC_FAMILY, f"{GRPC_FAMILY}_total", _grpc_lookup) or 0.0
    return {CALLS: http + grpc}


def item_cache_lookups(metrics: Exposition) -> dict[str, float] | None:
    """cart's item cache hits and misses so far; None where cart keeps no cache (or its code
    does not count them)."""
    hits = metrics.total("item_cache_hits", "item_cache_hits_total")
    misses = metrics.total("item_cache_misses", "item_cache_misses_total")
    if hits is None or misses is None:
        return None
    return {HITS: hits, MISSES: misses}


def hit_ratio(hits: float | None, misses: float | None) -> float | None:
    """hits / (hits + misses); None when nothing was looked up or nothing counted."""
    if hits is None or misses is None or hits + misses <= 0:
        return None
    return hits / (hits + misses)
