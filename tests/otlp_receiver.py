"""A real OTLP/HTTP trace receiver for tests: `POST /v1/traces` on a loopback port, each
`ExportTraceServiceRequest` decoded with opentelemetry-proto and its spans kept, as a
collector would receive them from the services' exporters. Runs in a thread of its own, so
it answers whatever the test's event loop is doing. `tree` prints one trace."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage

from pos_devstack.processes import LoopbackHttpServer, QuietHandler

KINDS = {
    SpanMessage.SPAN_KIND_INTERNAL: "INTERNAL",
    SpanMessage.SPAN_KIND_SERVER: "SERVER",
    SpanMessage.SPAN_KIND_CLIENT: "CLIENT",
    SpanMessage.SPAN_KIND_PRODUCER: "PRODUCER",
    SpanMessage.SPAN_KIND_CONSUMER: "CONSUMER",
}


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    return None if which is None else getattr(value, which)


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    """"" for a root span (no parent in this process or the caller's)."""
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(hash=False)

    @property
    def milliseconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class OtlpReceiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: LoopbackHttpServer | None = None

    @property
    def endpoint(self) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces)."""
        assert self._server is not None
        return self._server.url

    def start(self) -> OtlpReceiver:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._keep(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = LoopbackHttpServer(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=KINDS.get(span.kind, "UNSPECIFIED"),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self.spans.extend(received)
            self.requests += 1

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.snapshot() if span.trace_id == trace_id]

    def wait_for(
        self, done: Callable[[list[ReceivedSpan]], bool], within: float = 15.0
    ) -> list[ReceivedSpan]:
        """The spans received, once `done` says they are all there (or the time is up)."""
        deadline = time.monotonic() + within
        while True:
            spans = self.snapshot()
            if done(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)


def tree(spans: list[ReceivedSpan]) -> str:
    """One trace as an indented tree: service, kind, name, duration and the attributes that
    say what a span was about."""
    children: dict[str, list[ReceivedSpan]] = {}
    ids = {span.span_id for span in spans}
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent_id if span.parent_id in ids else ""
        children.setdefault(parent, []).append(span)
    shown = (
        "http.route", "http.response.status_code", "http.url", "url.full", "rpc.method",
        "rpc.grpc.status_code", "db.mongodb.collection", "pos.item_cache",
        "pos.masterdata.transport",
    )  # fmt: skip

    def lines(parent: str, depth: int) -> Iterator[str]:
        for span in children.get(parent, []):
            details = ", ".join(
                f"{key}={span.attributes[key]}" for key in shown if key in span.attributes
            )
            yield (
                f"{'  ' * depth}{span.service}: {span.kind} {span.name} "
                f"({span.milliseconds:.1f} ms){'  [' + details + ']' if details else ''}"
            )
            yield from lines(span.span_id, depth + 1)

    return "\n".join(lines("", 0))
