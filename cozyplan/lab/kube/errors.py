"""``metav1.Status`` errors in kube-apiserver's own words (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupResource:
    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``spec.replicas: Invalid value: -1: must be greater than or ...``."""

    type: str  # Required, Invalid, Unsupported, Forbidden, Duplicate, TooLong, NotFound
    field: str
    value: Any = None
    detail: str = ""
    has_value: bool = False

    _REASONS = {
        "Required": "FieldValueRequired",
        "Invalid": "FieldValueInvalid",
        "Unsupported": "FieldValueNotSupported",
        "Forbidden": "FieldValueForbidden",
        "Duplicate": "FieldValueDuplicate",
        "TooLong": "FieldValueTooLong",
        "NotFound": "FieldValueNotFound",
        "TypeInvalid": "FieldValueTypeInvalid",
        "TooMany": "FieldValueTooMany",
    }
    _TEXT = {
        "Required": "Required value",
        "Invalid": "Invalid value",
        "Unsupported": "Unsupported value",
        "Forbidden": "Forbidden",
        "Duplicate": "Duplicate value",
        "TooLong": "Too long",
        "NotFound": "Not found",
        "TypeInvalid": "Invalid value",
        "TooMany": "Too many",
    }

    def body(self) -> str:
        """The message without the field name (``StatusCause.message``)."""
        text = self._TEXT[self.type]
        if self.has_value:
            text += ": " + _value_text(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self._REASONS[self.type], "message": self.body(), "field": self.field}


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return '"null"'  # Go prints a nil bad value as the string "null"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + inner + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("Required", field, detail=detail)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("Invalid", field, value, detail, has_value=True)


def unsupported(field: str, value: Any, supported: list[Any]) -> FieldError:
    detail = "supported values: " + ", ".join(_value_text(v) for v in supported)
    return FieldError("Unsupported", field, value, detail, has_value=True)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("Forbidden", field, detail=detail)


class StatusError(Exception):
    """An API error answered as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown is omitted
            del out["reason"]
        if self.details is not None:
            out["details"] = self.details
        return out


def _details(gr: GroupResource, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if gr.group:
        out["group"] = gr.group
    out["kind"] = gr.resource
    return out


def not_found(gr: GroupResource, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{gr} "{name}" not found', _details(gr, name))


def already_exists(gr: GroupResource, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{gr} "{name}" already exists', _details(gr, name))


def conflict(gr: GroupResource, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {gr} "{name}": {why}',
        _details(gr, name),
    )


def stale(gr: GroupResource, name: str) -> StatusError:
    return conflict(
        gr,
        name,
        "the object has been modified; please apply your changes to the latest version and "
        "try again",
    )


def invalid_object(group: str, kind: str, name: str, errors: list[FieldError]) -> StatusError:
    qualified = f"{kind}.{group}" if group else kind
    text = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [e.cause() for e in errors]
    return StatusError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden_error(gr: GroupResource, name: str, why: str) -> StatusError:
    subject = f'{gr} "{name}"' if name else str(gr)
    return StatusError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(gr, name))


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def method_not_allowed() -> StatusError:
    return StatusError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unknown_path() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def unsupported_media(accepted: list[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )
