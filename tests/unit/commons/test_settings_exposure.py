"""Secrets read from files (`<NAME>_FILE`), the OpenAPI pages and /metrics by environment,
and the TLS settings' consistency checks (pure: no process; the real servers are exercised in
tests/cart/test_tls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from cart.settings import CartSettings
from master_data.settings import MasterDataSettings
from pos_commons.errors import UnauthenticatedError
from pos_commons.exposure import Exposure
from pos_commons.settings import FILE_SECRETS, ServiceSettings

ADMIN = "a" * 40
SERVICE = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*FILE_SECRETS, "app_env", "docs_enabled"):
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(f"{name.upper()}_FILE", raising=False)


def _file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def test_every_secret_may_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    values = {
        "admin_token": ADMIN,
        "service_token": SERVICE,
        "metrics_token": "m" * 40,
        "mongodb_uri": "mongodb://app:pw@db:27017/?replicaSet=rs0",
    }
    assert set(values) == set(FILE_SECRETS)
    for name, value in values.items():
        # Surrounding whitespace, as `echo` and editors leave it, is not part of the secret.
        monkeypatch.setenv(f"{name.upper()}_FILE", _file(tmp_path, name, f"{value}\n"))
    settings = ServiceSettings()
    assert settings.resolved_tokens() == (ADMIN, SERVICE)
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == values["metrics_token"]
    assert settings.mongodb_uri.get_secret_value() == values["mongodb_uri"]


def test_an_empty_variable_beside_its_file_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", "")
    monkeypatch.setenv("ADMIN_TOKEN_FILE", _file(tmp_path, "admin", ADMIN))
    monkeypatch.setenv("METRICS_TOKEN_FILE", "")
    settings = ServiceSettings()
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == ADMIN
    assert settings.metrics_token is None


def test_a_secret_and_its_file_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE)
    monkeypatch.setenv("SERVICE_TOKEN_FILE", _file(tmp_path, "service", SERVICE))
    with pytest.raises(ValidationError, match="SERVICE_TOKEN or SERVICE_TOKEN_FILE"):
        ServiceSettings()


def test_an_unreadable_secret_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="MONGODB_URI_FILE: cannot read"):
        ServiceSettings()


def test_production_refuses_a_short_metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE)
    monkeypatch.setenv("METRICS_TOKEN", "short")
    with pytest.raises(ValidationError, match="METRICS_TOKEN"):
        ServiceSettings()


@pytest.mark.parametrize(
    ("app_env", "docs_enabled", "served"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", "true", True),
        ("development", "false", False),
    ],
)
def test_the_pages_default_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, app_env: str, docs_enabled: str | None, served: bool
) -> None:
    monkeypatch.setenv("APP_ENV", app_env)
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE)
    if docs_enabled is not None:
        monkeypatch.setenv("DOCS_ENABLED", docs_enabled)
    exposure = Exposure.from_settings(ServiceSettings())
    assert exposure.docs is served
    arguments = exposure.docs_arguments()
    # FastAPI's own (CDN) pages never; /openapi.json with the (local) pages only.
    pages = dict.fromkeys(("docs_url", "redoc_url"))
    assert arguments == (pages if served else {**pages, "openapi_url": None})


def _exposure(monkeypatch: pytest.MonkeyPatch, app_env: str, token: str | None) -> Exposure:
    monkeypatch.setenv("APP_ENV", app_env)
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE)
    if token is not None:
        monkeypatch.setenv("METRICS_TOKEN", token)
    return Exposure.from_settings(ServiceSettings())


def test_metrics_open_in_development_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    _exposure(monkeypatch, "development", None).check_metrics(None)


def test_metrics_absent_in_production_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    exposure = _exposure(monkeypatch, "production", None)
    for authorization in (None, "Bearer anything"):
        with pytest.raises(HTTPException) as refused:
            exposure.check_metrics(authorization)
        assert refused.value.status_code == 404


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_metrics_token_is_required_when_set(monkeypatch: pytest.MonkeyPatch, app_env: str) -> None:
    token = "t" * 40
    exposure = _exposure(monkeypatch, app_env, token)
    exposure.check_metrics(f"Bearer {token}")
    for authorization, code in (
        (None, "AUTH_REQUIRED"),
        (f"Basic {token}", "AUTH_REQUIRED"),
        (f"Bearer {token}x", "INVALID_TOKEN"),
        (f"Bearer {ADMIN}", "INVALID_TOKEN"),  # the metrics token only, not the admin's
    ):
        with pytest.raises(UnauthenticatedError) as refused:
            exposure.check_metrics(authorization)
        assert refused.value.code == code


# --- TLS settings that cannot work are refused at start-up ------------------------------------


def test_master_data_tls_settings_go_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = _file(tmp_path, "any.pem", "-")
    assert MasterDataSettings().server_tls is None
    for variables in (
        {"TLS_CERT_FILE": pem},
        {"TLS_KEY_FILE": pem},
        {"TLS_CLIENT_CA_FILE": pem},
        {"TLS_CERT_FILE": str(tmp_path / "missing"), "TLS_KEY_FILE": pem},
    ):
        with monkeypatch.context() as scope:
            for name, value in variables.items():
                scope.setenv(name, value)
            with pytest.raises(ValidationError):
                MasterDataSettings()
    monkeypatch.setenv("TLS_CERT_FILE", pem)
    monkeypatch.setenv("TLS_KEY_FILE", pem)
    tls = MasterDataSettings().server_tls
    assert tls is not None
    assert not tls.mutual
    monkeypatch.setenv("TLS_CLIENT_CA_FILE", pem)
    tls = MasterDataSettings().server_tls
    assert tls is not None
    assert tls.mutual


def test_cart_tls_settings_go_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = _file(tmp_path, "any.pem", "-")
    monkeypatch.setenv("MASTER_DATA_URL", "https://md-1:8002,https://md-2:8002")
    assert CartSettings().master_data_tls is None
    for variables, problem in (
        ({"MASTER_DATA_TLS_CERT_FILE": pem}, "go together"),
        ({"MASTER_DATA_TLS_CERT_FILE": pem, "MASTER_DATA_TLS_KEY_FILE": pem}, "needs"),
        (
            {"MASTER_DATA_TLS_CA_FILE": pem, "MASTER_DATA_URL": "https://md:8002,http://x:8002"},
            "1 MASTER_DATA_URL entries are plain http:// URLs",
        ),
    ):
        with monkeypatch.context() as scope:
            for name, value in variables.items():
                scope.setenv(name, value)
            with pytest.raises(ValidationError, match=problem):
                CartSettings()
    monkeypatch.setenv("MASTER_DATA_TLS_CA_FILE", pem)
    tls = CartSettings().master_data_tls
    assert tls is not None
    assert tls.cert_file is None
