"""Where the services' spans go during a measurement: an OTLP/HTTP endpoint on loopback that
answers every export with 200 and counts what came, without decoding it (a collector's
cost is not the services'). Runs in a thread of the measuring process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pos_devstack.processes import LoopbackHttpServer, QuietHandler


@dataclass
class OtlpSink:
    exports: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: LoopbackHttpServer | None = None

    @property
    def endpoint(self) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT of the services."""
        assert self._server is not None
        return self._server.url

    def start(self) -> OtlpSink:
        sink = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                size = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with sink._lock:
                    sink.exports += 1
                    sink.bytes += size
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = LoopbackHttpServer(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
