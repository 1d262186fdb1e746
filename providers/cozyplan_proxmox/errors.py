"""Turning proxmoxer/requests failures into the engine's Temporary/Permanent errors."""

from __future__ import annotations

import requests
from proxmoxer.core import ResourceException

from cozyplan.provider import PermanentError, TemporaryError

#: 5xx messages that no retry can fix
_PERMANENT_5XX = (
    "does not exist",
    "already exists",
    "already running",
    "not allowed",
    "not supported",
    "shrinking",
    "no such",
    "Only root",
    "wrong type",
    "you can't",
    "is still in use",
    "not configured",
    "refusing to override",
    "invalid",
)


class ApiMixin:
    status: int
    pve_message: str


class ApiTemporaryError(TemporaryError, ApiMixin):
    def __init__(self, message: str, status: int, pve_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.pve_message = pve_message


class ApiPermanentError(PermanentError, ApiMixin):
    def __init__(
        self, message: str, status: int, pve_message: str, detail: str | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.status = status
        self.pve_message = pve_message


def is_transient_text(text: str) -> bool:
    return "can't lock file" in text or "got timeout" in text or " is locked (" in text


_REASONS = (
    "Connection refused",
    "Connection reset",
    "timed out",
    "Name or service not known",
    "No route to host",
    "Network is unreachable",
    "Remote end closed connection",
)


def _reason(exc: BaseException) -> str:
    """A short cause from requests' nested connection errors (no URL, no headers)."""
    text = str(exc)
    for reason in _REASONS:
        if reason.lower() in text.lower():
            return reason.lower()
    return type(exc).__name__


def classify(exc: Exception, what: str) -> ApiTemporaryError | ApiPermanentError:
    """The engine-facing error for a failed ``what`` (e.g. ``POST nodes/pve/qemu``)."""
    if isinstance(exc, ResourceException):
        status = int(exc.status_code)
        text = str(exc.content or "")
        if exc.errors:
            text += (
                " " + "; ".join(f"{k}: {v}" for k, v in dict(exc.errors).items())
                if isinstance(exc.errors, dict)
                else f" {exc.errors}"
            )
        message = f"{what}: HTTP {status} {text}".strip()
        if status in (401, 403):
            return ApiPermanentError(
                message + " (check token_id/token_secret and the token's ACL)", status, text
            )
        if is_transient_text(text):
            return ApiTemporaryError(message, status, text)
        if status >= 500 and not any(p in text for p in _PERMANENT_5XX):
            return ApiTemporaryError(message, status, text)
        return ApiPermanentError(message, status, text)
    if isinstance(exc, requests.exceptions.SSLError):
        return ApiPermanentError(f"{what}: TLS verification failed: {exc}", 0, str(exc))
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError):
        return ApiTemporaryError(f"{what}: connection failed: {_reason(exc)}", 0, str(exc))
    return ApiPermanentError(f"{what}: {type(exc).__name__}: {exc}", 0, str(exc))
