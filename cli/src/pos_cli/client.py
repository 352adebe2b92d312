"""One service's admin API, called with its token; every failure a `CliError` that says what
went wrong and what to do, never the token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import SecretStr


class CliError(Exception):
    """A failure to report to the operator and exit with (status 1); `code` and `details` are
    the service's, when it refused."""

    def __init__(self, message: str, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class AdminClient:
    def __init__(
        self, service: str, url: str, token: SecretStr | None, setting: str, timeout: float
    ) -> None:
        self.service = service
        self._setting = setting
        self._token = token
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        if self._token is None or not self._token.get_secret_value():
            raise CliError(
                f"No token for {self.service}: set {self._setting} or {self._setting}_FILE."
            )
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's `data` (None for 204); a refusal raises CliError with its code."""
        try:
            response = self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(
                f"{self.service} at {self._http.base_url} cannot be reached: {type(exc).__name__}."
            ) from None
        self._check(response)
        return None if response.status_code == 204 else response.json().get("data")

    def lines(self, path: str, **params: Any) -> Iterator[bytes]:
        """The lines of a streamed answer (JSON Lines), as they arrive."""
        try:
            with self._http.stream("GET", path, headers=self._headers(), params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response)
                yield from (line.encode() for line in response.iter_lines() if line)
        except httpx.HTTPError as exc:
            raise CliError(f"{self.service}: the export broke off: {type(exc).__name__}.") from None

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        details = None
        try:
            error = response.json()["error"]
            code, message, details = error["code"], error["message"], error.get("details")
        except (ValueError, KeyError, TypeError):
            code, message = "HTTP_ERROR", response.reason_phrase
        if response.status_code == 401:
            message += f" (check {self._setting})"
        elif response.status_code == 403:
            message += f" ({self._setting} must be {self.service}'s admin token)"
        raise CliError(f"{self.service}: {response.status_code} {code}: {message}", code, details)
