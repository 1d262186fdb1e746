"""Small helpers for the Kubernetes lab tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def error(fn: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The HTTP status and Status body of a call that must fail."""
    try:
        fn()
    except ApiException as exc:
        return exc.status, status_of(exc)
    raise AssertionError("the call succeeded")


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (the lab runs time-scaled)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def apply(
    dyn: DynamicClient,
    body: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Server-side apply with the client's dynamic API (discovery, then PATCH apply-patch+yaml)."""
    resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    got = dyn.server_side_apply(
        resource,
        body=body,
        namespace=body["metadata"].get("namespace"),
        field_manager=manager,
        force_conflicts=force or None,
    )
    return got.to_dict()  # type: ignore[no-any-return]
