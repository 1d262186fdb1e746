"""API server answers and transport failures become the engine's errors."""

from __future__ import annotations

import json

import urllib3

from cozyplan.provider import PermanentError, TemporaryError
from cozyplan_kubernetes.errors import ConflictError, Request, api_error, transport_error

REQ = Request("patch", "apps/v1 Deployment web in namespace demo", "admin@cozy")


def status(
    code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None
) -> bytes:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    if causes:
        body["details"] = {"causes": causes}
    return json.dumps(body).encode()


def test_401_and_403_name_the_user_and_verb() -> None:
    err = api_error(REQ, 403, status(403, "Forbidden", 'deployments.apps "web" is forbidden'))
    assert isinstance(err, PermanentError)
    assert "user 'admin@cozy' may not patch" in str(err)
    assert "apps/v1 Deployment web in namespace demo" in str(err)
    err = api_error(REQ, 401, status(401, "Unauthorized", "Unauthorized"))
    assert isinstance(err, PermanentError) and "user 'admin@cozy'" in str(err)


def test_apply_conflict_names_the_other_manager_and_fields() -> None:
    body = status(
        409,
        "Conflict",
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
        [
            {
                "type": "FieldManagerConflict",
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-edit" using apps/v1',
                "field": ".spec.replicas",
            }
        ],
    )
    err = api_error(REQ, 409, body)
    assert isinstance(err, ConflictError)
    assert err.managers == {"kubectl-edit": [".spec.replicas"]}
    assert "'kubectl-edit' owns .spec.replicas" in str(err)
    assert "force_conflicts" in str(err)


def test_409_429_and_5xx_are_retried_with_retry_after() -> None:
    err = api_error(REQ, 409, status(409, "Conflict", "the object has been modified"))
    assert isinstance(err, TemporaryError)
    err = api_error(REQ, 429, status(429, "TooManyRequests", "slow down"), {"Retry-After": "7"})
    assert isinstance(err, TemporaryError) and err.delay == 7.0
    err = api_error(REQ, 503, b"upstream connect error")
    assert isinstance(err, TemporaryError) and "upstream connect error" in str(err)


def test_other_4xx_are_permanent_with_the_server_message() -> None:
    err = api_error(REQ, 422, status(422, "Invalid", 'Deployment.apps "web" is invalid: spec.x'))
    assert isinstance(err, PermanentError) and not isinstance(err, TemporaryError)
    assert "spec.x" in str(err)


def test_transport_errors() -> None:
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
    assert isinstance(transport_error(REQ, reset), TemporaryError)
    bad_cert = urllib3.exceptions.SSLError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )
    err = transport_error(REQ, bad_cert)
    assert isinstance(err, PermanentError) and not isinstance(err, TemporaryError)
