"""Tracing with OpenTelemetry: off unless asked for, and then configured by the standard
OTEL_* environment variables.

Off (the default: `OTEL_TRACES_EXPORTER` unset or `none`, or `OTEL_SDK_DISABLED=true`),
`start_tracing` returns None before importing the SDK, and the services install nothing:
no instrumentation, no interceptor, no listener, no trace header sent, no cost per request.

On, the SDK reads everything else itself: the exporters named by `OTEL_TRACES_EXPORTER`
(through its own entry points; `otlp` is OTLP over HTTP/protobuf, the one OTLP exporter
installed, at `OTEL_EXPORTER_OTLP_ENDPOINT`), the sampler (`OTEL_TRACES_SAMPLER[_ARG]`), the
batch processor (`OTEL_BSP_*`), the resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`)
and the propagators (`OTEL_PROPAGATORS`: W3C trace context and baggage by default).
pos_commons.instrumentation says what each service then attaches where.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# The OTLP specification's default protocol; the SDK's own default ("grpc") names an exporter
# this project does not install.
DEFAULT_OTLP_PROTOCOL = "http/protobuf"


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment turns tracing on: an exporter named, the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() not in ("", "none")


@dataclass(frozen=True)
class Tracing:
    """The process's tracer provider, when tracing is on."""

    provider: TracerProvider
    service: str

    def tracer(self, name: str) -> trace.Tracer:
        return self.provider.get_tracer(name)

    def shutdown(self) -> None:
        """Exports what is still buffered (also done at exit)."""
        self.provider.shutdown()


def start_tracing(service: str) -> Tracing | None:
    """Configures the process's tracer provider from the environment (once, at start-up),
    or returns None when tracing is off. `service` is the service name unless
    OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) gives another."""
    if not tracing_requested():
        return None
    # Imported here: a process with tracing off never loads the SDK.
    from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", DEFAULT_OTLP_PROTOCOL)
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    # The SDK's own reading of OTEL_TRACES_EXPORTER (names, "otlp" by protocol, entry points),
    # as its auto-configuration does; its sampler comes from OTEL_TRACES_SAMPLER[_ARG].
    exporters, _, _ = _import_exporters(_get_exporter_names("traces"), [], [])
    provider = TracerProvider(resource=resource)
    for exporter in exporters.values():
        provider.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(provider)
    return Tracing(provider, service)


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span current here, in W3C hex, if there is one: what a log
    line written inside a traced call carries (sampled or not, the ids travel)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
