"""CRUD, errors, discovery, selectors and optimistic concurrency with the official client."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.kube_lab.helpers import error


def test_crud_metadata_and_managed_fields(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    made = v1.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"x": "1"}}
    )
    meta = made.metadata
    assert meta.uid and meta.creation_timestamp and int(meta.resource_version) > 0
    assert meta.generation is None  # ConfigMaps have no generation, as on a real server
    entry = meta.managed_fields[0]
    assert (entry.manager, entry.operation, entry.fields_v1) == (
        "OpenAPI-Generator",
        "Update",
        {"f:data": {"f:x": {}}},
    )
    got = v1.read_namespaced_config_map("a", "default")
    assert got.data == {"x": "1"} and got.metadata.resource_version == meta.resource_version
    got.data["y"] = "2"
    updated = v1.replace_namespaced_config_map("a", "default", got)
    assert int(updated.metadata.resource_version) > int(meta.resource_version)
    # a write with the old resourceVersion is refused
    got.metadata.resource_version = meta.resource_version
    code, status = error(lambda: v1.replace_namespaced_config_map("a", "default", got))
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )
    v1.delete_namespaced_config_map("a", "default")
    code, status = error(lambda: v1.read_namespaced_config_map("a", "default"))
    assert (code, status["reason"], status["message"]) == (
        404,
        "NotFound",
        'configmaps "a" not found',
    )
    assert status["details"] == {"name": "a", "kind": "configmaps"}


def test_errors_have_real_reasons(api: client.ApiClient) -> None:
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    v1.create_namespace({"metadata": {"name": "x"}})
    code, status = error(lambda: v1.create_namespace({"metadata": {"name": "x"}}))
    assert (code, status["reason"], status["message"]) == (
        409,
        "AlreadyExists",
        'namespaces "x" already exists',
    )
    code, status = error(
        lambda: v1.create_namespaced_config_map("nope", {"metadata": {"name": "c"}})
    )
    assert (code, status["message"]) == (404, 'namespaces "nope" not found')
    bad: dict[str, Any] = {
        "metadata": {"name": "Bad_Name"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "b"}},
                "spec": {"containers": [{"name": "c"}]},
            },
        },
    }
    code, status = error(lambda: apps.create_namespaced_deployment("x", bad))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"].startswith('Deployment.apps "Bad_Name" is invalid: [metadata.name: ')
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == [
        "metadata.name",
        "spec.template.metadata.labels",
        "spec.template.spec.containers[0].image",
    ]
    assert status["details"]["causes"][2] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.template.spec.containers[0].image",
    }
    code, status = error(lambda: v1.list_namespaced_config_map("x", field_selector="data.x=1"))
    assert (code, status["message"]) == (400, "field label not supported: data.x")


def test_anonymous_requests_are_unauthorized(cluster: Any, tmp_path: Any) -> None:
    import requests

    ca = tmp_path / "ca.crt"
    ca.write_text(cluster.cluster.record["ca_crt"])
    url = f"https://{cluster.host}:{cluster.port}/api/v1/namespaces"
    got = requests.get(url, verify=str(ca), timeout=10)
    assert got.status_code == 401 and got.json()["reason"] == "Unauthorized"


def test_selectors_and_pagination(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    for i, tier in enumerate(["web", "web", "db", "cache"]):
        v1.create_namespaced_config_map(
            "default", {"metadata": {"name": f"cm{i}", "labels": {"tier": tier, "n": str(i)}}}
        )

    def names(**kw: Any) -> list[str]:
        return [i.metadata.name for i in v1.list_namespaced_config_map("default", **kw).items]

    assert names(label_selector="tier=web") == ["cm0", "cm1"]
    assert names(label_selector="tier in (db,cache),n!=3") == ["cm2"]
    assert names(label_selector="!tier") == []
    assert names(field_selector="metadata.name=cm3") == ["cm3"]
    first = v1.list_namespaced_config_map("default", limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    rest = v1.list_namespaced_config_map("default", limit=3, _continue=first.metadata._continue)
    assert [i.metadata.name for i in first.items + rest.items] == ["cm0", "cm1", "cm2", "cm3"]
    assert not rest.metadata._continue


def test_discovery(api: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= set(groups)
    apps = client.AppsV1Api(api).get_api_resources()
    deploy = next(r for r in apps.resources if r.name == "deployments")
    assert (deploy.kind, deploy.namespaced, deploy.short_names) == ("Deployment", True, ["deploy"])
    assert "patch" in deploy.verbs
    subs = {r.name for r in apps.resources}
    assert {"deployments/status", "deployments/scale"} <= subs
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")


def test_generation_moves_with_spec_only(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    body = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    made = apps.create_namespaced_deployment("default", body)
    assert made.metadata.generation == 1 and made.status is None
    assert made.spec.replicas == 1 and made.spec.strategy.type == "RollingUpdate"
    assert made.spec.template.spec.containers[0].image_pull_policy == "Always"
    labelled = apps.patch_namespaced_deployment(
        "d", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("d", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def _raw(api: client.ApiClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    import json

    resp = api.call_api(
        method,
        api.configuration.host + path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
    )
    return resp.status, json.loads(resp.read() if hasattr(resp, "read") else resp.data)


def test_paths_methods_dry_run_and_subresources(api: client.ApiClient) -> None:
    code, status = _raw(api, "GET", "/apis/example.com/v1/namespaces/default/widgets")
    assert (code, status["reason"], status["message"]) == (
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
    code, status = _raw(api, "POST", "/api/v1/namespaces/default/configmaps/x", {})
    assert (code, status["reason"]) == (405, "MethodNotAllowed")
    code, status = _raw(api, "DELETE", "/api/v1/namespaces")
    assert code == 405
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    dry = v1.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert (
        dry.metadata.uid
        and error(lambda: v1.read_namespaced_config_map("dry", "default"))[0] == 404
    )
    body = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    apps.create_namespaced_deployment("default", body)
    scale = apps.patch_namespaced_deployment_scale("d", "default", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    assert apps.read_namespaced_deployment("d", "default").spec.replicas == 4
    # status written through the main resource is ignored; through /status it is kept
    ignored = apps.patch_namespaced_deployment("d", "default", {"status": {"collisionCount": 7}})
    assert (ignored.status.collision_count if ignored.status else None) != 7
    kept = apps.patch_namespaced_deployment_status(
        "d", "default", {"status": {"collisionCount": 7}}
    )
    assert kept.status.collision_count == 7
    # and a status write does not change the spec
    same = apps.patch_namespaced_deployment_status("d", "default", {"spec": {"replicas": 9}})
    assert same.spec.replicas == 4


def test_immutable_fields(api: client.ApiClient) -> None:
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    v1.create_namespaced_config_map(
        "default", {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    code, status = error(
        lambda: v1.patch_namespaced_config_map("frozen", "default", {"data": {"a": "2"}})
    )
    assert (code, status["message"]) == (
        422,
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is '
        "set",
    )
    code, status = error(
        lambda: v1.create_namespaced_config_map(
            "default", {"metadata": {"name": "rv", "resourceVersion": "5"}}
        )
    )
    assert (code, status["message"]) == (
        400,
        "resourceVersion should not be set on objects to be created",
    )
    sts = {
        "metadata": {"name": "s"},
        "spec": {
            "serviceName": "s",
            "selector": {"matchLabels": {"app": "s"}},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    apps.create_namespaced_stateful_set("default", sts)
    code, status = error(
        lambda: apps.patch_namespaced_stateful_set("s", "default", {"spec": {"serviceName": "t"}})
    )
    assert code == 422
    assert status["message"].startswith(
        'StatefulSet.apps "s" is invalid: spec: Forbidden: updates to statefulset spec for fields '
        "other than"
    )
