"""Server-side apply: managedFields per manager, conflicts, force, released fields, updates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic.exceptions import ConflictError

from tests.kube_lab.helpers import apply


def _cm(data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", **meta},
        "data": data,
    }


def _body(exc: Exception) -> dict[str, Any]:
    body = getattr(exc, "body", b"{}")
    return body if isinstance(body, dict) else json.loads(body)  # type: ignore[no-any-return]


def _managers(obj: dict[str, Any]) -> dict[str, Any]:
    return {(m["manager"], m["operation"]): m["fieldsV1"] for m in obj["metadata"]["managedFields"]}


def test_apply_creates_then_owns_and_releases(dyn: Any) -> None:
    made = apply(dyn, _cm({"a": "1", "b": "2"}, labels={"app": "x"}), "cozyplan")
    assert made["data"] == {"a": "1", "b": "2"}
    assert _managers(made) == {
        ("cozyplan", "Apply"): {
            "f:data": {"f:a": {}, "f:b": {}},
            "f:metadata": {"f:labels": {"f:app": {}}},
        }
    }
    # the same apply again changes nothing, not even the resourceVersion
    again = apply(dyn, _cm({"a": "1", "b": "2"}, labels={"app": "x"}), "cozyplan")
    assert again["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    # a field the manager stops sending is removed
    dropped = apply(dyn, _cm({"a": "1"}), "cozyplan")
    assert dropped["data"] == {"a": "1"} and "labels" not in dropped["metadata"]


def test_conflict_with_another_applier_and_force(dyn: Any) -> None:
    apply(dyn, _cm({"a": "1", "b": "2"}), "cozyplan")
    with pytest.raises(ConflictError) as info:
        apply(dyn, _cm({"a": "changed", "b": "also"}), "helm")
    status = (
        info.value.body
        if isinstance(info.value.body, dict)
        else __import__("json").loads(info.value.body)
    )
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["message"] == (
        'Apply failed with 2 conflicts: conflicts with "cozyplan":\n- .data.a\n- .data.b'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "cozyplan"',
            "field": ".data.a",
        },
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "cozyplan"',
            "field": ".data.b",
        },
    ]
    # the same value is no conflict: both managers own it
    shared = apply(dyn, _cm({"a": "1"}), "helm")
    assert _managers(shared)[("helm", "Apply")] == {"f:data": {"f:a": {}}}
    assert _managers(shared)[("cozyplan", "Apply")] == {"f:data": {"f:a": {}, "f:b": {}}}
    # force takes the field away from the other manager
    forced = apply(dyn, _cm({"a": "1", "b": "mine"}), "helm", force=True)
    assert forced["data"] == {"a": "1", "b": "mine"}
    assert _managers(forced)[("cozyplan", "Apply")] == {"f:data": {"f:a": {}}}
    # a field shared with another manager survives when one of them stops sending it
    empty = _cm({})
    del empty["data"]
    released = apply(dyn, empty, "cozyplan")
    assert released["data"] == {"a": "1", "b": "mine"}
    assert ("cozyplan", "Apply") not in _managers(released)


def test_update_by_another_manager_takes_ownership(dyn: Any, api: client.ApiClient) -> None:
    apply(dyn, _cm({"a": "1", "b": "2"}), "cozyplan")
    v1 = client.CoreV1Api(api)
    edited = v1.patch_namespaced_config_map(
        "cm", "default", {"data": {"a": "edited"}}, field_manager="kubectl-edit"
    )
    owners = {m.manager: m.fields_v1 for m in edited.metadata.managed_fields}
    assert owners == {"cozyplan": {"f:data": {"f:b": {}}}, "kubectl-edit": {"f:data": {"f:a": {}}}}
    # the next apply of the old value conflicts with the editor, in the real server's words
    with pytest.raises(ConflictError) as info:
        apply(dyn, _cm({"a": "1", "b": "2"}), "cozyplan")
    message = _body(info.value)["message"]
    assert message.startswith(
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1 at '
    )
    assert message.endswith(": .data.a")
    healed = apply(dyn, _cm({"a": "1", "b": "2"}), "cozyplan", force=True)
    assert healed["data"] == {"a": "1", "b": "2"}
    assert [m["manager"] for m in healed["metadata"]["managedFields"]] == ["cozyplan"]


def test_associative_lists_merge_by_key(dyn: Any) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
            },
        },
    }
    apply(dyn, deploy, "cozyplan")
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1"}]}}},
    }
    merged = apply(dyn, sidecar, "injector")
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["app", "proxy"]
    owned = _managers(merged)[("injector", "Apply")]
    assert owned == {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"proxy"}': {".": {}, "f:image": {}, "f:name": {}}}
                }
            }
        }
    }
    # status can not be applied through the main resource
    deploy["status"] = {"replicas": 7}
    again = apply(dyn, deploy, "cozyplan")
    assert (again.get("status") or {}).get("replicas") != 7


def test_apply_needs_a_field_manager(api: client.ApiClient) -> None:
    def call() -> Any:
        return api.call_api(
            "PATCH",
            api.configuration.host + "/api/v1/namespaces/default/configmaps/x",
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=json.dumps(_cm({"a": "1"})),
        )

    resp = call()
    body = json.loads(resp.read() if hasattr(resp, "read") else resp.data)
    assert resp.status == 422
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )


def test_managed_fields_reset_and_kept(dyn: Any, api: client.ApiClient) -> None:
    apply(dyn, _cm({"a": "1"}), "cozyplan")
    v1 = client.CoreV1Api(api)
    # an empty list is ignored (clients unaware of the field never strip it)
    kept = v1.patch_namespaced_config_map("cm", "default", {"metadata": {"managedFields": []}})
    assert [m.manager for m in kept.metadata.managed_fields] == ["cozyplan"]
    # [{}] strips every entry, as documented
    stripped = v1.patch_namespaced_config_map(
        "cm", "default", {"metadata": {"managedFields": [{}]}}
    )
    assert stripped.metadata.managed_fields is None


def test_apply_status_subresource_and_force_only_for_apply(dyn: Any, api: client.ApiClient) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "s"}},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    apply(dyn, deploy, "cozyplan")
    resource = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    status = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "s", "namespace": "default"},
        "status": {"collisionCount": 3},
        "spec": {"replicas": 5},
    }
    got = dyn.server_side_apply(
        resource.subresources["status"],
        body=status,
        name="s",
        namespace="default",
        field_manager="status-writer",
    ).to_dict()
    assert got["status"]["collisionCount"] == 3 and got["spec"]["replicas"] == 0
    entry = next(m for m in got["metadata"]["managedFields"] if m["manager"] == "status-writer")
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {
        "f:status": {"f:collisionCount": {}}
    }
    apps = client.AppsV1Api(api)
    try:
        apps.patch_namespaced_deployment("s", "default", {"spec": {"replicas": 1}}, force=True)
    except client.ApiException as exc:
        assert exc.status == 422
        assert json.loads(exc.body)["message"] == (
            'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
            "non-apply patch"
        )
    else:
        raise AssertionError("force on a merge patch was accepted")
