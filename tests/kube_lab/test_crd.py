"""CRDs (the capmox ones): Established after NamesAccepted, then served and in discovery; custom
objects validated, pruned and defaulted against the structural schema; deleting the CRD deletes
its objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from ruamel.yaml import YAML

import cozyplan.upstream.capmox as capmox_data
from tests.kube_lab.conftest import Kubectl
from tests.kube_lab.helpers import error, wait_until

# the CRDs as copied from capmox v0.7.4 (shipped as package data)
CAPMOX = Path(capmox_data.__file__).parent / "data" / "v0.7.4"
CRD = "proxmoxclusters.infrastructure.cluster.x-k8s.io"
PATH = "/apis/infrastructure.cluster.x-k8s.io/v1alpha1/namespaces/default/proxmoxclusters"


def _raw(api: client.ApiClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = api.call_api(
        method,
        api.configuration.host + path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
    )
    return resp.status, json.loads(resp.read() if hasattr(resp, "read") else resp.data)


def _cluster(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1alpha1",
        "kind": "ProxmoxCluster",
        "metadata": {"name": "c1", "labels": {"cluster.x-k8s.io/cluster-name": "cozy"}},
        "spec": {
            "dnsServers": ["10.0.0.1"],
            "controlPlaneEndpoint": {"host": "10.0.0.200", "port": 6443},
            "ipv4Config": {
                "addresses": ["10.0.0.210-10.0.0.220"],
                "prefix": 24,
                "gateway": "10.0.0.1",
            },
            **spec,
        },
    }


# CRDs take a visible while to be established: the first GET lands before
@pytest.mark.parametrize("lab_options", [{"latency": {"crd_names": 30, "crd_established": 30}}])
def test_crd_established_then_served_validated_pruned(
    api: client.ApiClient, kubectl: Kubectl
) -> None:
    ext = client.ApiextensionsV1Api(api)
    body = YAML(typ="safe", pure=True).load((CAPMOX / "proxmoxclusters.crd.yaml").read_text())
    ext.create_custom_resource_definition(body)
    # not served before it is Established
    assert _raw(api, "GET", PATH)[0] == 404
    kubectl("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    crd = ext.read_custom_resource_definition(CRD)
    types = {c.type: c.status for c in crd.status.conditions}
    assert types == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "ProxmoxCluster"
    assert crd.status.stored_versions == ["v1alpha1"]
    group = client.ApisApi(api).get_api_versions().groups
    assert "infrastructure.cluster.x-k8s.io" in {g.name for g in group}
    # valid object: unknown fields pruned, defaults filled
    obj = _cluster(unknownField=1)
    code, made = _raw(api, "POST", PATH, obj)
    assert code == 201, made
    assert "unknownField" not in made["spec"]
    assert made["spec"]["ipv4Config"]["metric"] == 100  # required, and defaulted first
    assert made["metadata"]["generation"] == 1
    # invalid object: the apiextensions validator's messages
    bad = _cluster(controlPlaneEndpoint={"host": "h", "port": "x"})
    bad["metadata"]["name"] = "c2"
    del bad["spec"]["dnsServers"]
    code, status = _raw(api, "POST", PATH, bad)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'ProxmoxCluster.infrastructure.cluster.x-k8s.io "c2" is invalid: ['
        'spec.controlPlaneEndpoint.port: Invalid value: "string": spec.controlPlaneEndpoint.port '
        'in body must be of type integer: "string", spec.dnsServers: Required value, <nil>: '
        'Invalid value: "null": some validation rules were not checked because the object was '
        "invalid; correct the existing errors to complete validation]"
    )
    # kubectl lists it with the CRD's printer columns
    table = kubectl("get", "proxmoxclusters").stdout.splitlines()
    assert table[0].split() == ["NAME", "CLUSTER", "READY", "ENDPOINT", "AGE"]
    assert table[1].split()[:2] == ["c1", "cozy"]
    # status is a subresource: the main resource keeps it, /status writes it
    code, _ = _raw(api, "PUT", PATH + "/c1/status", {**made, "status": {"ready": True}})
    assert code == 200
    assert _raw(api, "GET", PATH + "/c1")[1]["status"] == {"ready": True}
    # deleting the CRD deletes its objects, then the type is gone
    ext.delete_custom_resource_definition(CRD)
    wait_until(lambda: error(lambda: ext.read_custom_resource_definition(CRD))[0] == 404)
    assert _raw(api, "GET", PATH)[0] == 404


def test_crd_and_custom_object_in_one_kubectl_apply(kubectl: Kubectl, tmp_path: Path) -> None:
    crd = (CAPMOX / "proxmoxmachines.crd.yaml").read_text()
    machine = """
apiVersion: infrastructure.cluster.x-k8s.io/v1alpha1
kind: ProxmoxMachine
metadata: {name: m1, namespace: default}
spec:
  sourceNode: pve
  templateID: 100
"""
    (tmp_path / "crd.yaml").write_text(crd)
    (tmp_path / "m.yaml").write_text(machine)
    kubectl("apply", "--server-side", "-f", str(tmp_path / "crd.yaml"))
    kubectl(
        "wait", "--for=condition=Established", "crd/proxmoxmachines.infrastructure.cluster.x-k8s.io"
    )
    out = kubectl("apply", "--server-side", "-f", str(tmp_path / "m.yaml")).stdout
    assert out.strip() == "proxmoxmachine.infrastructure.cluster.x-k8s.io/m1 serverside-applied"
    got = json.loads(kubectl("get", "proxmoxmachine", "m1", "-o", "json").stdout)
    assert got["spec"]["templateID"] == 100
    kubectl("delete", "proxmoxmachine", "m1", "--timeout=30s")


def test_unknown_fields_of_custom_objects(api: client.ApiClient, kubectl: Kubectl) -> None:
    ext = client.ApiextensionsV1Api(api)
    body = YAML(typ="safe", pure=True).load((CAPMOX / "proxmoxclusters.crd.yaml").read_text())
    ext.create_custom_resource_definition(body)
    kubectl("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    doc = _cluster(typo=1)
    doc["metadata"]["namespace"] = "default"
    # server-side apply types the applied configuration: refused, as the real field manager does
    out = kubectl("apply", "--server-side", "-f", "-", input=json.dumps(doc), check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "Error from server: failed to create typed patch object (default/c1; "
        "infrastructure.cluster.x-k8s.io/v1alpha1, Kind=ProxmoxCluster): .spec.typo: field not "
        "declared in schema"
    )
    # create with fieldValidation=Strict (kubectl's default) refuses, Warn warns and prunes
    strict = kubectl("create", "-f", "-", input=json.dumps(doc), check=False)
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "spec.typo"' in strict.stderr
    warned = kubectl("create", "--validate=warn", "-f", "-", input=json.dumps(doc))
    assert 'Warning: unknown field "spec.typo"' in warned.stderr
    got = json.loads(kubectl("get", "proxmoxcluster", "c1", "-o", "json").stdout)
    assert "typo" not in got["spec"]


def test_cel_rules(api: client.ApiClient, kubectl: Kubectl) -> None:
    pytest.importorskip("celpy")
    ext = client.ApiextensionsV1Api(api)
    body = YAML(typ="safe", pure=True).load((CAPMOX / "proxmoxclusters.crd.yaml").read_text())
    ext.create_custom_resource_definition(body)
    kubectl("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    # x-kubernetes-validations (CEL) with the CRD's messages
    cel = _cluster(controlPlaneEndpoint={"host": "h", "port": 70000})
    cel["metadata"]["name"] = "c3"
    del cel["spec"]["ipv4Config"]
    code, status = _raw(api, "POST", PATH, cel)
    assert (code, status["message"]) == (
        422,
        'ProxmoxCluster.infrastructure.cluster.x-k8s.io "c3" is invalid: ['
        'spec: Invalid value: "object": at least one ip config must be set, either ipv4Config or '
        'ipv6Config, spec.controlPlaneEndpoint: Invalid value: "object": port must be within '
        "1-65535]",
    )


def _widget_crd(*versions: tuple[str, bool, bool]) -> dict[str, Any]:
    """A small CRD with (name, served, storage) versions."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": n, "served": served, "storage": storage, "schema": schema}
                for n, served, storage in versions
            ],
        },
    }


def test_a_crd_change_is_served_by_the_next_request(api: client.ApiClient) -> None:
    """The served types are rebuilt after any write to a CRD, never later."""
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(_widget_crd(("v1", True, True)))
    wait_until(lambda: _raw(api, "GET", "/apis/example.com/v1")[0] == 200)
    assert _raw(api, "GET", "/apis/example.com/v2")[0] == 404
    ext.replace_custom_resource_definition(
        "widgets.example.com",
        {
            **_widget_crd(("v1", True, True), ("v2", True, False)),
            "metadata": {"name": "widgets.example.com"},
        },
    )
    code, found = _raw(api, "GET", "/apis/example.com/v2")
    assert code == 200 and [r["name"] for r in found["resources"]] == ["widgets"]
    assert _raw(api, "GET", "/apis/example.com/v2/namespaces/default/widgets")[0] == 200
    ext.patch_custom_resource_definition(
        "widgets.example.com",
        {
            "spec": {
                "versions": _widget_crd(("v1", True, True), ("v2", False, False))["spec"][
                    "versions"
                ]
            }
        },
    )
    assert _raw(api, "GET", "/apis/example.com/v2/namespaces/default/widgets")[0] == 404
    assert _raw(api, "GET", "/apis/example.com/v1/namespaces/default/widgets")[0] == 200
    ext.delete_custom_resource_definition("widgets.example.com")
    wait_until(lambda: _raw(api, "GET", "/apis/example.com/v1")[0] == 404)
