"""ServiceApp.add_routers: a service's routes served as the app's own, named and documented
as `include_router` would, and a router it cannot serve that way refused."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.routing import Mount

from pos_commons.admission import AdmissionLimits
from pos_commons.envelope import JsonResponse, ok
from pos_commons.exposure import Exposure
from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics
from pos_commons.service_app import ServiceApp, ServiceRouter


def _app() -> ServiceApp:
    return ServiceApp(
        metrics=HttpMetrics(CollectorRegistry()),
        access_log=False,
        max_request_bytes=1_000,
        lifecycle=Lifecycle(),
        exposure=Exposure(docs=False, metrics_open=False, metrics_token=None),
        admission=AdmissionLimits(max_concurrent=4, queue_seconds=1.0, request_seconds=5.0),
    )


def _widgets() -> ServiceRouter:
    router = ServiceRouter(prefix="/api/v1/widgets", tags=["widget"])

    @router.get("/{widget_id}", responses={404: {"description": "No such widget."}})
    async def get_widget(widget_id: int) -> JsonResponse:
        return ok({"widgetId": widget_id})

    return router


async def test_added_routes_answer_under_their_prefix_with_the_apps_names() -> None:
    app = _app()
    app.add_routers(_widgets())
    operation = app.openapi()["paths"]["/api/v1/widgets/{widget_id}"]["get"]
    assert operation["operationId"] == "get_widget"
    assert operation["tags"] == ["widget"]
    assert "404" in operation["responses"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        found = await client.get("/api/v1/widgets/7")
        assert found.json()["data"] == {"widgetId": 7}
        assert (await client.get("/api/v1/widgets/seven")).status_code == 422
        assert (await client.get("/api/v1/gadgets/7")).status_code == 404


def test_a_router_with_more_than_api_routes_is_refused() -> None:
    router = _widgets()
    router.routes.append(Mount("/static", routes=[]))
    with pytest.raises(TypeError, match="only API routes"):
        _app().add_routers(router)


def test_a_router_with_hooks_of_its_own_is_refused() -> None:
    router = _widgets()
    router.on_startup.append(lambda: None)
    with pytest.raises(TypeError, match="hooks"):
        _app().add_routers(router)
