"""Drift is computed on the fields the manifest sets, with Kubernetes list semantics."""

from __future__ import annotations

import base64
from typing import Any

from cozyplan_kubernetes.owned import merge_key, project, project_object, strip_server_fields

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                ]
            }
        },
    },
}


def live_of(desired: dict[str, Any]) -> dict[str, Any]:
    """What a server returns: defaults, status, server metadata and other managers' fields."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "uid": "u-1",
            "resourceVersion": "42",
            "labels": {"app": "web", "team": "other-manager"},
            "managedFields": [{"manager": "cozyplan"}],
        },
        "spec": {
            "replicas": desired["spec"]["replicas"],
            "progressDeadlineSeconds": 600,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": desired["spec"]["template"]["spec"]["containers"][0]["image"],
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "injected-sidecar", "image": "proxy"},
                    ]
                }
            },
        },
        "status": {"replicas": 2, "availableReplicas": 2},
    }


def test_defaults_status_and_other_managers_fields_are_not_drift() -> None:
    assert project(DESIRED, live_of(DESIRED)) == DESIRED


def test_an_owned_field_changed_elsewhere_is_exactly_that_drift() -> None:
    live = live_of(DESIRED)
    live["spec"]["replicas"] = 5
    got = project(DESIRED, live)
    assert got["spec"]["replicas"] == 5
    got["spec"]["replicas"] = 2
    assert got == DESIRED


def test_an_owned_field_removed_elsewhere_is_missing() -> None:
    live = live_of(DESIRED)
    del live["metadata"]["labels"]["app"]
    assert project(DESIRED, live)["metadata"]["labels"] == {}


def test_associative_list_items_match_by_key_not_position() -> None:
    live = live_of(DESIRED)
    containers = live["spec"]["template"]["spec"]["containers"]
    containers.reverse()  # the other manager's container first
    assert project(DESIRED, live) == DESIRED


def test_atomic_lists_are_compared_whole() -> None:
    desired = {"spec": {"args": ["--a", "--b"]}}
    assert project(desired, {"spec": {"args": ["--a", "--b"]}}) == desired
    assert project(desired, {"spec": {"args": ["--a"]}}) == {"spec": {"args": ["--a"]}}
    assert project(desired, {"spec": {"args": ["--a", "--b", "--c"]}}) == {
        "spec": {"args": ["--a", "--b", "--c"]}
    }


def test_scalars_the_server_normalises_are_equal() -> None:
    assert project({"port": "80"}, {"port": 80}) == {"port": "80"}
    assert project({"enabled": True}, {"enabled": "true"}) == {"enabled": "true"}
    assert project({"n": 1}, {"n": 2}) == {"n": 2}


def test_merge_key_needs_unique_values() -> None:
    assert merge_key([{"name": "a"}, {"name": "b"}]) == "name"
    assert merge_key([{"name": "a"}, {"name": "a"}]) is None
    assert merge_key(["a", "b"]) is None


def test_secret_string_data_reads_back_from_data() -> None:
    desired = {"kind": "Secret", "stringData": {"password": "hunter2"}}
    live = {"kind": "Secret", "data": {"password": base64.b64encode(b"hunter2").decode()}}
    assert project_object(desired, live) == desired
    live["data"]["password"] = base64.b64encode(b"changed").decode()
    assert project_object(desired, live)["stringData"] == {"password": "changed"}


def test_strip_server_fields_for_import() -> None:
    live = live_of(DESIRED)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    got = strip_server_fields(live)
    assert "status" not in got
    assert set(got["metadata"]) == {"name", "namespace", "labels"}
