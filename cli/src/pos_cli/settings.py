"""Where posctl finds the services and its tokens: environment variables or files, never a
command-line argument (shell history and `ps` would keep them)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pos_commons.settings import read_secret_files

TOKENS = ("master_data_token", "cart_token")


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSCTL_", extra="ignore")

    master_data_url: str = Field(
        default="http://127.0.0.1:8002", description="master-data's base URL (its admin API)."
    )
    cart_url: str = Field(
        default="http://127.0.0.1:8003", description="cart's base URL (its terminals API)."
    )
    master_data_token: SecretStr | None = Field(
        default=None, description="master-data's ADMIN_TOKEN (tenants, stores, the catalog)."
    )
    master_data_token_file: str | None = None
    cart_token: SecretStr | None = Field(
        default=None, description="cart's ADMIN_TOKEN (terminals and their keys)."
    )
    cart_token_file: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="before")
    @classmethod
    def _read_token_files(cls, data: Any) -> Any:
        return read_secret_files(data, TOKENS) if isinstance(data, dict) else data
