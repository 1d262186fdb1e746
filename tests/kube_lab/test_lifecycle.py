"""Watches (resume, bookmarks, 410 Gone), finalizers, namespace deletion, garbage collection."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.kube_lab.helpers import error, wait_until


def _cm(name: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **meta}, "data": {"k": name}}


def _events(
    v1: client.CoreV1Api, rv: str, expect: int | None = None, **kw: Any
) -> list[tuple[str, str]]:
    """The events after ``rv``: ``expect`` of them (then stop), or all within a second."""
    w = watch.Watch()
    out = []
    stream = w.stream(
        v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1, **kw
    )
    for e in stream:
        out.append((e["type"], e["object"].metadata.name))
        if expect is not None and len(out) >= expect:
            w.stop()
            break
    return out


def test_watch_resumes_from_a_resource_version(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map("default", _cm("a"))
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", _cm("b"))
    v1.patch_namespaced_config_map("a", "default", {"data": {"k": "changed"}})
    v1.delete_namespaced_config_map("b", "default")
    assert _events(v1, rv, 3) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert _events(v1, rv, label_selector="none=here") == []
    # every event in the window carries its own resourceVersion to resume from
    w = watch.Watch()
    versions = []
    for e in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv):
        versions.append(e["object"].metadata.resource_version)
        if len(versions) == 3:
            w.stop()
            break
    assert _events(v1, versions[0], 2) == [("MODIFIED", "a"), ("DELETED", "b")]


@pytest.mark.parametrize("lab_options", [{"watch_window": 3}])
def test_expired_resource_version_is_410_gone(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    for i in range(5):
        v1.create_namespaced_config_map("default", _cm(f"c{i}"))
    with pytest.raises(ApiException) as info:
        _events(v1, rv)
    assert info.value.status == 410
    assert "too old resource version" in str(info.value.reason)
    # a fresh list gives a resourceVersion that watches again
    fresh = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", _cm("late"))
    assert _events(v1, fresh, 1) == [("ADDED", "late")]


@pytest.mark.parametrize("lab_options", [{"latency": {"bookmark": 5}}])
def test_bookmarks(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    stream = watch.Watch().stream(
        v1.list_namespaced_config_map,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    kinds = {e["type"] for e in stream}
    assert kinds == {"BOOKMARK"}


def test_finalizers_hold_deletion(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map("default", _cm("held", finalizers=["example.com/hold"]))
    v1.delete_namespaced_config_map("held", "default")
    held = v1.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    code, status = error(
        lambda: v1.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["example.com/hold", "other/x"]}}
        )
    )
    assert (code, status["reason"]) == (422, "Invalid")
    assert "no new finalizers can be added if the object is being deleted" in status["message"]
    rv = held.metadata.resource_version
    v1.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    assert error(lambda: v1.read_namespaced_config_map("held", "default"))[0] == 404
    assert _events(v1, rv, 1) == [("DELETED", "held")]


def test_namespace_deletion_empties_it(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "doomed"}})
    v1.create_namespaced_config_map("doomed", _cm("plain"))
    v1.create_namespaced_config_map("doomed", _cm("held", finalizers=["example.com/hold"]))
    v1.delete_namespace("doomed")
    ns = v1.read_namespace("doomed")
    assert ns.status.phase == "Terminating" and ns.spec.finalizers == ["kubernetes"]
    code, status = error(lambda: v1.create_namespaced_config_map("doomed", _cm("new")))
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "new" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    )
    wait_until(
        lambda: [c.metadata.name for c in v1.list_namespaced_config_map("doomed").items] == ["held"]
    )
    assert v1.read_namespace("doomed").status.phase == "Terminating"  # held by the finalizer
    v1.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    wait_until(lambda: "doomed" not in {n.metadata.name for n in v1.list_namespace().items})


def _owned(v1: client.CoreV1Api, owner: Any, name: str, **meta: Any) -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    v1.create_namespaced_config_map("default", _cm(name, ownerReferences=[ref], **meta))


def _names(v1: client.CoreV1Api) -> set[str]:
    return {c.metadata.name for c in v1.list_namespaced_config_map("default").items}


def test_garbage_collection_background_and_orphan(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    owner = v1.create_namespaced_config_map("default", _cm("owner"))
    _owned(v1, owner, "child")
    v1.delete_namespaced_config_map("owner", "default")  # Background by default
    wait_until(lambda: "child" not in _names(v1))
    owner = v1.create_namespaced_config_map("default", _cm("owner2"))
    _owned(v1, owner, "orphan")
    v1.delete_namespaced_config_map("owner2", "default", propagation_policy="Orphan")
    wait_until(lambda: "owner2" not in _names(v1))
    assert v1.read_namespaced_config_map("orphan", "default").metadata.owner_references is None


def test_garbage_collection_foreground(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    owner = v1.create_namespaced_config_map("default", _cm("owner"))
    _owned(v1, owner, "child", finalizers=["example.com/hold"])
    v1.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    got = v1.read_namespaced_config_map("owner", "default")
    assert "foregroundDeletion" in got.metadata.finalizers
    wait_until(
        lambda: v1.read_namespaced_config_map("child", "default").metadata.deletion_timestamp
    )
    assert "owner" in _names(v1)  # waits for its dependents
    v1.patch_namespaced_config_map("child", "default", {"metadata": {"finalizers": None}})
    wait_until(lambda: not ({"owner", "child"} & _names(v1)))
