"""The settings base both services extend: environment variables, documented, validated.

Every field is read from the environment variable of the same name in upper case
(``USE_GRPC``, ``MONGODB_URI``...). docs/configuration.md lists them all.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_PRODUCTION_TOKEN_LENGTH = 32

FILE_SECRETS = ("admin_token", "service_token", "metrics_token", "mongodb_uri")
"""Settings that may instead be read from the file `<NAME>_FILE` names (Docker and Kubernetes
mount secrets as files: unlike environment variables, they do not show in `docker inspect`,
in `/proc/<pid>/environ` or in a crash report's environment dump)."""

_log = logging.getLogger(__name__)


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service reads."""

    # hide_input_in_errors: a refused setting's message must not print its value (a token).
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    app_env: AppEnv = Field(
        default=AppEnv.DEVELOPMENT,
        description="development or production; production refuses missing or weak secrets.",
    )
    bind_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP (and gRPC) servers listen on; 0.0.0.0 inside containers.",
    )
    mongodb_uri: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27017/"),
        description="MongoDB connection string (the scripts point it at SecantusDB when unset).",
    )
    mongodb_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "Server selection timeout for MongoDB outside an operation's deadline (startup "
            "waits); a request's server selection is bounded by "
            "MONGODB_OPERATION_TIMEOUT_SECONDS instead."
        ),
    )
    mongodb_operation_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description=(
            "Deadline of every MongoDB operation (the driver's timeoutMS): waiting for a "
            "pooled connection, server selection, the command and the driver's own retry. "
            "Past it the request answers 504 DATABASE_TIMEOUT; readiness fails while the "
            "database does not answer within it."
        ),
    )
    mongodb_write_concern: str = Field(
        default="majority",
        pattern=r"^(majority|[0-9]{1,2})$",
        description="Write concern w of every write the service makes (majority or a number "
        "of members).",
    )
    mongodb_journal: bool = Field(
        default=True, description="Acknowledge every write only once journaled (j)."
    )
    mongodb_read_concern: Literal["local", "majority"] = Field(
        default="majority",
        description="Read concern of every read (transactions included); local or majority, "
        "the two a transaction and a change stream accept too.",
    )
    mongodb_max_idle_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "A pooled MongoDB connection idle this long is closed rather than reused. Keep "
            "it below any idle timeout on the way (load balancer, NAT, SecantusDB's 300 s): "
            "a connection closed by the far end fails the write that next uses it."
        ),
    )
    use_grpc: bool = Field(
        default=False,
        description="master-data: also serve gRPC. cart: fetch master data over gRPC, not HTTP.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token for administrative writes."
    )
    service_token: SecretStr | None = Field(
        default=None, description="Bearer token one service presents to another."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "When set, /metrics requires `Authorization: Bearer <METRICS_TOKEN>`; unset, "
            "/metrics is open in development and answers 404 in production."
        ),
    )
    admin_token_file: Path | None = Field(
        default=None, description="File holding ADMIN_TOKEN (instead of the variable)."
    )
    service_token_file: Path | None = Field(
        default=None, description="File holding SERVICE_TOKEN (instead of the variable)."
    )
    metrics_token_file: Path | None = Field(
        default=None, description="File holding METRICS_TOKEN (instead of the variable)."
    )
    mongodb_uri_file: Path | None = Field(
        default=None, description="File holding MONGODB_URI (instead of the variable)."
    )
    docs_enabled: bool | None = Field(
        default=None,
        description=(
            "Serve /docs, /redoc and /openapi.json; unset: on in development, off in production."
        ),
    )
    log_level: str = Field(default="INFO", description="Python log level name.")
    log_format: str = Field(
        default="json", pattern="^(json|text)$", description="json (one object a line) or text."
    )
    access_log: bool = Field(default=False, description="Log one line per HTTP request.")
    shutdown_drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description=(
            "After SIGTERM, how long the service keeps serving while reporting not ready, "
            "before it stops gracefully (0: stop at once)."
        ),
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "Budget of one API request: retries on its behalf (a version conflict, a "
            "master-data lookup) and waits (a busy cart, a queue) end within it."
        ),
    )
    max_concurrent_requests: int = Field(
        default=64,
        ge=0,
        le=100_000,
        description=(
            "API requests a process serves at once; more wait their turn (0: no bound). "
            "Health, readiness and metrics are never held back."
        ),
    )
    request_queue_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long a request may wait for a turn when MAX_CONCURRENT_REQUESTS are being "
            "served; then 503 OVERLOADED at once, with Retry-After."
        ),
    )
    max_request_bytes: int = Field(
        default=1_048_576, ge=1_024, description="Larger request bodies are refused (413)."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """`<NAME>_FILE` stands for `<NAME>`: the file's content, surrounding whitespace (the
        newline editors and `echo` add) removed. Setting both is refused: which one wins
        would be a guess."""
        if not isinstance(data, dict):
            return data
        return read_secret_files(data, FILE_SECRETS)

    @property
    def write_concern_w(self) -> int | str:
        w = self.mongodb_write_concern
        return int(w) if w.isdigit() else w

    @property
    def production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def docs_served(self) -> bool:
        """DOCS_ENABLED, or by default: in development only."""
        return not self.production if self.docs_enabled is None else self.docs_enabled

    @model_validator(mode="after")
    def _secrets_fit_the_environment(self) -> Self:
        if self.production:
            problems = [
                f"{name.upper()} is required in production "
                f"(at least {MIN_PRODUCTION_TOKEN_LENGTH} characters)"
                for name in ("admin_token", "service_token")
                if len(_secret(getattr(self, name))) < MIN_PRODUCTION_TOKEN_LENGTH
            ]
            if not problems and _secret(self.admin_token) == _secret(self.service_token):
                problems.append("ADMIN_TOKEN and SERVICE_TOKEN must differ")
            metrics = _secret(self.metrics_token)
            if metrics and len(metrics) < MIN_PRODUCTION_TOKEN_LENGTH:
                problems.append(
                    f"METRICS_TOKEN, when set, needs at least {MIN_PRODUCTION_TOKEN_LENGTH} "
                    "characters in production"
                )
            if problems:
                raise ValueError("; ".join(problems))
        return self

    def resolved_tokens(self) -> tuple[str, str]:
        """(admin, service) tokens; in development a missing one is generated for the run.

        A generated token is never logged (logs are collected and shared): set the variable
        to call what needs it. scripts/start.sh generates, keeps and prints its own.
        """
        admin = _secret(self.admin_token)
        service = _secret(self.service_token)
        for name, value in (("ADMIN_TOKEN", admin), ("SERVICE_TOKEN", service)):
            if not value:
                _log.warning("%s not set: using a random one for this development run", name)
        return admin or secrets.token_urlsafe(32), service or secrets.token_urlsafe(32)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def read_secret_files(data: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Settings values with each `<name>_file` read into `<name>`: the file's content,
    surrounding whitespace (the newline editors and `echo` add) removed. Setting both is
    refused: which one wins would be a guess. Secrets stay out of command lines and `ps`."""
    values = dict(data)
    for name in names:
        path = values.get(f"{name}_file")
        if path in (None, ""):
            values[f"{name}_file"] = None  # an empty variable counts as unset
            continue
        if values.get(name) not in (None, ""):
            raise ValueError(f"set {name.upper()} or {name.upper()}_FILE, not both")
        try:
            values[name] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{name.upper()}_FILE: cannot read {path}: {exc}") from exc
    return values
