"""Injected faults: 500/503, 429 with Retry-After, dropped connections; a retrying client
converges; the knobs are read live (``--set kubernetes.error_rate=...`` or world options)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from cozyplan.lab.runtime import InProcessLab
from tests.kube_lab.helpers import status_of


def _no_retries(api: client.ApiClient) -> client.CoreV1Api:
    api.rest_client.pool_manager.connection_pool_kw["retries"] = False
    return client.CoreV1Api(api)


@pytest.mark.parametrize("lab_options", [{"error_rate": 0.3, "throttle_rate": 0.3}])
def test_errors_and_throttling(api: client.ApiClient, lab: InProcessLab) -> None:
    v1 = _no_retries(api)
    seen: Counter[int] = Counter()
    reasons: dict[int, dict[str, Any]] = {}
    headers: dict[int, Any] = {}
    for _ in range(60):
        try:
            v1.list_namespace()
            seen[200] += 1
        except ApiException as exc:
            seen[exc.status] += 1
            reasons[exc.status] = status_of(exc)
            headers[exc.status] = exc.headers
    assert seen[200] and seen[429] and (seen[500] or seen[503])
    assert reasons[429]["reason"] == "TooManyRequests"
    assert headers[429]["Retry-After"] == "1"
    if 500 in reasons:
        assert reasons[500]["reason"] == "InternalError"
    # a client that retries what is retryable converges: the write happens exactly once
    made = 0
    for _ in range(50):
        try:
            v1.create_namespaced_config_map("default", {"metadata": {"name": "once"}})
            made += 1
            break
        except ApiException as exc:
            if exc.status == 409:
                break
            assert exc.status in (429, 500, 503)
    status = lab.status()["simulators"]["kubernetes"]["by_cluster"]
    injected = next(iter(status.values()))["faults_injected"]
    assert injected["error"] > 0 and injected["throttle"] > 0
    # faults can be switched off live
    lab.runtime.world.options["kubernetes"] = {}
    assert v1.read_namespaced_config_map("once", "default").metadata.name == "once"


@pytest.mark.parametrize("lab_options", [{"drop_rate": 0.5}])
def test_dropped_connections(api: client.ApiClient, lab: InProcessLab) -> None:
    v1 = _no_retries(api)
    dropped = ok = 0
    for i in range(30):
        try:
            v1.create_namespaced_config_map("default", {"metadata": {"name": f"d{i}"}})
            ok += 1
        except (urllib3.exceptions.HTTPError, OSError):
            dropped += 1
        except ApiException as exc:  # a dropped reply after the write: the retry finds it
            assert exc.status == 409
    assert dropped and ok
    # half of the drops happen after the write was done, as when a proxy times out
    time.sleep(0.05)
    lab.runtime.world.options["kubernetes"] = {}
    names = {c.metadata.name for c in v1.list_namespaced_config_map("default").items}
    assert len(names) > ok
