"""End to end through the CLI against the lab's Kubernetes API server."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from k8s_lab import Cluster
from ruamel.yaml import YAML

from cozyplan_kubernetes.client import APPLY_PATCH, MERGE_PATCH
from cozyplan_kubernetes.errors import Request

pytestmark = pytest.mark.slow


def spec(namespace: str, body: str) -> str:
    return f"""\
version: 1
providers:
  kubernetes: {{kubeconfig_path: kubeconfig}}
resources:
  k8s_manifest.ns:
    manifest: {{apiVersion: v1, kind: Namespace, metadata: {{name: {namespace}}}}}
{body}"""


CONFIGMAP = """\
  k8s_manifest.settings:
    manifest:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: settings, namespace: NS, labels: {app: demo}}
      data: {mode: fast, level: "3"}
    depends_on: [k8s_manifest.ns]
"""


def configmap_spec(ns: str, extra: str = "") -> str:
    return spec(ns, CONFIGMAP.replace("NS", ns) + extra)


def test_apply_then_empty_plan_then_drift_on_owned_fields_only(cluster: Cluster) -> None:
    name = "drift.yaml"
    cluster.write(configmap_spec("drift"), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    again = cluster.cli("plan", "--detailed-exitcode", spec=name)
    assert again.returncode == 0, again.stdout + again.stderr

    path = "/api/v1/namespaces/drift/configmaps/settings"
    # another manager adds a field cozyplan does not set: not drift
    cluster.call(
        "PATCH",
        path,
        body={"metadata": {"labels": {"team": "ops"}}, "data": {"extra": "x"}},
        content_type=MERGE_PATCH,
        query={"fieldManager": "kubectl-edit"},
    )
    quiet = cluster.cli("refresh", "--detailed-exitcode", spec=name)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr

    # ... and edits one cozyplan owns: exactly that drift, healed by apply
    cluster.call(
        "PATCH",
        path,
        body={"data": {"mode": "slow"}},
        content_type=MERGE_PATCH,
        query={"fieldManager": "kubectl-edit"},
    )
    drift = cluster.cli("refresh", "--detailed-exitcode", spec=name)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "manifest.data.mode" in drift.stdout
    assert '"fast"' in drift.stdout and '"slow"' in drift.stdout
    assert "extra" not in drift.stdout and "team" not in drift.stdout
    heal = cluster.cli("apply", "--auto-approve", spec=name)
    assert heal.returncode == 0, heal.stdout + heal.stderr
    live = cluster.call("GET", path).body
    assert live["data"] == {"mode": "fast", "level": "3", "extra": "x"}
    assert cluster.cli("plan", "--detailed-exitcode", spec=name).returncode == 0


def test_a_field_removed_from_the_spec_is_released(cluster: Cluster) -> None:
    name = "release.yaml"
    cluster.write(configmap_spec("release"), name)
    assert cluster.cli("apply", "--auto-approve", spec=name).returncode == 0
    cluster.write(configmap_spec("release").replace(', level: "3"', ""), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    live = cluster.call("GET", "/api/v1/namespaces/release/configmaps/settings").body
    assert live["data"] == {"mode": "fast"}


def test_an_apply_conflict_names_the_other_manager_unless_forced(cluster: Cluster) -> None:
    name = "conflict.yaml"
    cluster.write(configmap_spec("conflict"), name)
    assert cluster.cli("apply", "--auto-approve", spec=name).returncode == 0
    # another manager applies a field of its own
    cluster.call(
        "PATCH",
        "/api/v1/namespaces/conflict/configmaps/settings",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "conflict"},
            "data": {"owner": "helm"},
        },
        content_type=APPLY_PATCH,
        query={"fieldManager": "helm"},
    )
    assert cluster.cli("plan", "--detailed-exitcode", spec=name).returncode == 0
    # the spec now sets that field too: a conflict, named, until force_conflicts
    claimed = configmap_spec("conflict").replace('level: "3"}', 'level: "3", owner: cozyplan}')
    cluster.write(claimed, name)
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert "'helm' owns .data.owner" in failed.stdout + failed.stderr
    assert "force_conflicts" in failed.stdout + failed.stderr
    # the ConfigMap is the last block of the spec
    forced = claimed + "    force_conflicts: true\n"
    cluster.write(forced, name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    live = cluster.call("GET", "/api/v1/namespaces/conflict/configmaps/settings").body
    assert live["data"]["owner"] == "cozyplan"


def test_drift_healing_takes_back_fields_another_manager_forced(cluster: Cluster) -> None:
    name = "takeback.yaml"
    cluster.write(configmap_spec("takeback"), name)
    assert cluster.cli("apply", "--auto-approve", spec=name).returncode == 0
    cluster.call(
        "PATCH",
        "/api/v1/namespaces/takeback/configmaps/settings",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "takeback"},
            "data": {"mode": "theirs"},
        },
        content_type=APPLY_PATCH,
        query={"fieldManager": "helm", "force": "true"},
    )
    heal = cluster.cli("apply", "--auto-approve", spec=name)
    assert heal.returncode == 0, heal.stdout + heal.stderr
    assert "taking back .data.mode from 'helm'" in heal.stdout
    live = cluster.call("GET", "/api/v1/namespaces/takeback/configmaps/settings").body
    assert live["data"]["mode"] == "fast"


CRD_AND_CR = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: string}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: first, namespace: crds}
spec: {size: small}
"""


def test_a_crd_and_its_objects_in_one_apply_then_import(cluster: Cluster) -> None:
    name = "crds.yaml"
    (cluster.dir / "gadgets.yaml").write_text(CRD_AND_CR)
    cluster.write(
        spec(
            "crds",
            "  k8s_manifest.gadgets:\n    file: gadgets.yaml\n    depends_on: [k8s_manifest.ns]\n",
        ),
        name,
    )
    plan = cluster.cli("plan", spec=name)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "k8s_manifest.gadgets[Gadget/crds/first] will be created" in plan.stdout
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    got = cluster.call("GET", "/apis/example.com/v1/namespaces/crds/gadgets/first")
    assert got.status == 200 and got.body["spec"] == {"size": "small"}
    assert cluster.cli("plan", "--detailed-exitcode", spec=name).returncode == 0

    # forget the custom object, import it back: the next plan is empty
    rm = cluster.cli("state", "rm", "k8s_manifest.gadgets[Gadget/crds/first]", spec=name)
    assert rm.returncode == 0, rm.stdout + rm.stderr
    imported = cluster.cli(
        "import",
        "k8s_manifest.gadgets[Gadget/crds/first]",
        "example.com/v1/Gadget/crds/first",
        spec=name,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    plan = cluster.cli("plan", "--detailed-exitcode", spec=name)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    # destroy: the CRD and its objects go in parallel (deleting the CRD deletes its objects)
    gone = cluster.cli("destroy", "--auto-approve", spec=name)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com"
    assert cluster.call("GET", crd).status == 404


def test_delete_waits_for_finalizers(cluster: Cluster) -> None:
    name = "final.yaml"
    body = CONFIGMAP.replace("NS", "final").replace(
        "labels: {app: demo}}", "labels: {app: demo}, finalizers: [example.com/hold]}"
    )
    body += "    delete_timeout: 1\n"
    cluster.write(spec("final", body), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    cluster.write(spec("final", ""), name)
    timed_out = cluster.cli("apply", "--auto-approve", spec=name)
    assert timed_out.returncode == 1
    assert "example.com/hold" in timed_out.stdout + timed_out.stderr
    # the finalizer's controller finishes: the next apply sees it go
    cluster.call(
        "PATCH",
        "/api/v1/namespaces/final/configmaps/settings",
        body={"metadata": {"finalizers": None}},
        content_type=MERGE_PATCH,
    )
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.call("GET", "/api/v1/namespaces/final/configmaps/settings").status == 404


def test_secrets_are_never_printed(cluster: Cluster) -> None:
    name = "secret.yaml"
    body = """\
  k8s_secret.app:
    name: app
    namespace: secret
    data: {token: "TOKEN-k8s-secret-1"}
    depends_on: [k8s_manifest.ns]
  k8s_manifest.db:
    manifest:
      apiVersion: v1
      kind: Secret
      metadata: {name: db, namespace: secret}
      stringData: {password: "PASSWORD-k8s-manifest-2"}
    depends_on: [k8s_manifest.ns]
"""
    cluster.write(spec("secret", body), name)
    outputs = [
        cluster.cli("plan", spec=name),
        cluster.cli("plan", "--json", spec=name),
        cluster.cli("apply", "--auto-approve", spec=name),
    ]
    # changed elsewhere: the drift report and the healing plan mask it too
    cluster.call(
        "PATCH",
        "/api/v1/namespaces/secret/secrets/db",
        body={"stringData": {"password": "PASSWORD-changed-3"}},
        content_type=MERGE_PATCH,
        query={"fieldManager": "kubectl-edit"},
    )
    refresh = cluster.cli("refresh", "--detailed-exitcode", spec=name)
    assert refresh.returncode == 2, refresh.stdout + refresh.stderr
    outputs += [refresh, cluster.cli("plan", "--json", spec=name), cluster.cli("show", spec=name)]
    markdown = cluster.cli("plan", "--markdown", "plan.md", "--out", "saved.plan", spec=name)
    outputs.append(markdown)
    outputs.append(cluster.cli("apply", "--auto-approve", spec=name))
    text = "".join(o.stdout + o.stderr for o in outputs)
    text += (cluster.dir / "plan.md").read_text() + (cluster.dir / "saved.plan").read_text(
        errors="replace"
    )
    assert "PASSWORD" not in (cluster.dir / "plan.md").read_text()
    for secret in ("TOKEN-k8s-secret-1", "PASSWORD-k8s-manifest-2", "PASSWORD-changed-3"):
        assert secret not in text
    state = (cluster.labdir / "state" / "secret.state.json").read_text()
    assert "TOKEN-k8s-secret-1" not in state and "PASSWORD-k8s-manifest-2" not in state
    assert json.loads(outputs[1].stdout)  # the JSON plan is valid


def test_a_failing_check_fails_apply_and_refresh(cluster: Cluster) -> None:
    name = "check.yaml"
    body = """\
  k8s_check.nodes:
    nodes_ready: {count: 5}
    timeout: 5
    interval: 1
"""
    cluster.write(spec("check", body), name)
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert "of 5 nodes Ready" in failed.stdout + failed.stderr


def test_refresh_reports_an_object_that_stopped_being_ready(cluster: Cluster) -> None:
    name = "ready.yaml"
    waited = CONFIGMAP.replace("NS", "ready") + (
        "    wait_for: {jsonpath: ['{.metadata.annotations.state}=ok'], timeout: 60}\n"
    )
    cluster.write(configmap_spec("ready"), name)
    assert cluster.cli("apply", "--auto-approve", spec=name).returncode == 0
    path = "/api/v1/namespaces/ready/configmaps/settings"

    def annotate(state: str) -> None:
        cluster.call(
            "PATCH",
            path,
            body={"metadata": {"annotations": {"state": state}}},
            content_type=MERGE_PATCH,
            query={"fieldManager": "operator"},
        )

    annotate("ok")
    cluster.write(spec("ready", waited), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.cli("plan", "--detailed-exitcode", spec=name).returncode == 0

    annotate("degraded")
    drift = cluster.cli("refresh", "--detailed-exitcode", spec=name)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "ready: true -> false" in drift.stdout
    # while it stays degraded, apply waits (bounded) and fails naming what is not ready
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert "{.metadata.annotations.state} is 'degraded', waiting for 'ok'" in failed.stdout + (
        failed.stderr
    )
    annotate("ok")
    healed = cluster.cli("apply", "--auto-approve", spec=name)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert cluster.cli("refresh", "--detailed-exitcode", spec=name).returncode == 0


def test_injected_faults_converge(cluster: Cluster) -> None:
    """API errors, throttling and dropped connections: retried until the apply converges."""
    name = "faults.yaml"
    many = "".join(
        f"""\
  k8s_manifest.cm{i}:
    manifest:
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: cm{i}, namespace: faults}}
      data: {{index: "{i}"}}
    depends_on: [k8s_manifest.ns]
"""
        for i in range(8)
    )
    cluster.write(spec("faults", many), name)
    with cluster.restarted(
        "kubernetes.error_rate=0.15", "kubernetes.throttle_rate=0.1", "kubernetes.drop_rate=0.1"
    ):
        done = cluster.cli("apply", "--auto-approve", spec=name)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Retrying" in done.stdout or "retry" in done.stdout.lower()
        again = cluster.cli("plan", "--detailed-exitcode", spec=name)
        assert again.returncode == 0, again.stdout + again.stderr
    for i in range(8):
        got = cluster.call("GET", f"/api/v1/namespaces/faults/configmaps/cm{i}")
        assert got.body["data"] == {"index": str(i)}


EXAMPLES = Path(__file__).resolve().parents[2] / "specs" / "examples"


def test_the_examples_apply_on_a_fresh_lab_then_plan_empty(tmp_path: Path) -> None:
    """specs/examples/talos.yaml, then specs/examples/kubernetes.yaml, as a user runs them."""
    specs = tmp_path / "specs" / "examples"
    shutil.copytree(EXAMPLES, specs)
    (tmp_path / "state").mkdir()
    lab = ["--lab", "--lab-dir", str(tmp_path / ".lab"), "--time-scale", "0.02"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cozyplan", *args, *lab],
            cwd=tmp_path,
            text=True,
            capture_output=True,
            timeout=300,
        )

    talos = cli("apply", "--auto-approve", "--quiet", "-f", "specs/examples/talos.yaml")
    assert talos.returncode == 0, talos.stdout + talos.stderr
    kube = cli("apply", "--auto-approve", "-f", "specs/examples/kubernetes.yaml")
    assert kube.returncode == 0, kube.stdout + kube.stderr
    assert "k8s_manifest.widgets[Widget/demo/first]: Creation complete" in kube.stdout
    again = cli("plan", "--detailed-exitcode", "-f", "specs/examples/kubernetes.yaml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "change-me" not in kube.stdout + again.stdout  # the sensitive variable's default


def test_a_check_that_starts_failing_is_drift_until_it_passes_again(cluster: Cluster) -> None:
    name = "podcheck.yaml"
    body = """\
  k8s_check.pods:
    no_failing_pods: {namespaces: [podcheck]}
    timeout: 5
    interval: 1
    depends_on: [k8s_manifest.ns]
"""
    cluster.write(spec("podcheck", body), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.cli("refresh", "--detailed-exitcode", spec=name).returncode == 0

    pods = "/api/v1/namespaces/podcheck/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "broken", "namespace": "podcheck"},
        "spec": {"containers": [{"name": "app", "image": "example.com/broken:1"}]},
    }
    created = cluster.call("POST", pods, body=pod, allow=())
    assert created.status == 201
    crashing = {
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 5,
                    "image": "example.com/broken:1",
                    "imageID": "",
                    "state": {
                        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}
                    },
                }
            ]
        }
    }
    cluster.call("PATCH", f"{pods}/broken/status", body=crashing, content_type=MERGE_PATCH)
    drift = cluster.cli("refresh", "--detailed-exitcode", spec=name)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "pod podcheck/broken container app: CrashLoopBackOff" in drift.stdout
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert "checks still failing" in failed.stdout + failed.stderr
    assert "CrashLoopBackOff: back-off 5m0s" in failed.stdout + failed.stderr

    cluster.call("DELETE", f"{pods}/broken", body={"gracePeriodSeconds": 0})
    healed = cluster.cli("apply", "--auto-approve", spec=name)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert cluster.cli("refresh", "--detailed-exitcode", spec=name).returncode == 0


def test_storage_and_load_balancer_checks(cluster: Cluster) -> None:
    name = "infra.yaml"
    body = """\
  k8s_manifest.fast:
    manifest:
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: fast}
      provisioner: csi.example.com
      volumeBindingMode: Immediate
  k8s_manifest.lb:
    manifest:
      apiVersion: v1
      kind: Service
      metadata: {name: web, namespace: infra}
      spec:
        type: LoadBalancer
        selector: {app: web}
        ports: [{port: 80}]
    depends_on: [k8s_manifest.ns]
  k8s_check.storage:
    storage_binds: {storage_class: fast, namespace: infra, timeout: 30}
    timeout: 10
    depends_on: [k8s_manifest.fast, k8s_manifest.ns]
"""
    cluster.write(spec("infra", body), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    # the throw-away claim is gone again
    claims = cluster.call("GET", "/api/v1/namespaces/infra/persistentvolumeclaims").body
    left = [c for c in claims["items"] if c["metadata"].get("deletionTimestamp") is None]
    assert left == []
    since = cluster.call("GET", "/api/v1/namespaces/infra/persistentvolumeclaims").body
    assert cluster.cli("refresh", "--detailed-exitcode", spec=name).returncode == 0
    assert cluster.cli("plan", "--detailed-exitcode", spec=name).returncode == 0
    # storage_binds is a probe: refresh and plan re-evaluate the check without it, so no
    # claim was created (and deleted) since the apply
    client = cluster.client()
    try:
        events = list(
            client.watch(
                "/api/v1/namespaces/infra/persistentvolumeclaims",
                Request("watch", "persistentvolumeclaims"),
                {"resourceVersion": since["metadata"]["resourceVersion"]},
                timeout=1,
            )
        )
    finally:
        client.close()
    assert [e["type"] for e in events if e["type"] == "ADDED"] == []

    # no address pool in this cluster: the Service stays <pending>, the check says so
    lb = """\
  k8s_check.lb:
    load_balancer: {namespace: infra, name: web}
    timeout: 2
    interval: 1
    depends_on: [k8s_manifest.lb]
"""
    cluster.write(spec("infra", body + lb), name)
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert "Service infra/web has no load-balancer address yet" in failed.stdout + failed.stderr


HELMRELEASE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "helmreleases.helm.toolkit.fluxcd.io"},
    "spec": {
        "group": "helm.toolkit.fluxcd.io",
        "scope": "Namespaced",
        "names": {
            "plural": "helmreleases",
            "singular": "helmrelease",
            "kind": "HelmRelease",
            "listKind": "HelmReleaseList",
            "shortNames": ["hr"],
        },
        "versions": [
            {
                "name": "v2",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def test_helmreleases_check_lists_the_ones_not_ready(cluster: Cluster) -> None:
    crd = cluster.call(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=HELMRELEASE_CRD,
        allow=(409,),
    )
    assert crd.status in (201, 409)
    base = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/default/helmreleases"
    for _ in range(100):  # until the CRD is Established and its kind served
        if cluster.call("GET", base).status == 200:
            break
        time.sleep(0.1)
    labels = {"cozystack.io/system-app": "true"}
    for release, ready in (("cilium", "True"), ("kubeovn", "False")):
        hr = {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": release, "namespace": "default", "labels": labels},
            "spec": {"chart": {"spec": {"chart": release}}},
        }
        cluster.call("POST", base, body=hr, allow=(409,))
        status = {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": ready,
                        "reason": "InstallSucceeded" if ready == "True" else "InstallFailed",
                        "message": "ok" if ready == "True" else "install retries exhausted",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ]
            }
        }
        cluster.call("PATCH", f"{base}/{release}/status", body=status, content_type=MERGE_PATCH)
    name = "helm.yaml"
    body = """\
  k8s_check.platform:
    helmreleases_ready: {selector: cozystack.io/system-app=true, min_count: 2}
    timeout: 2
    interval: 1
"""
    cluster.write(spec("helm", body), name)
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "HelmRelease default/kubeovn: Ready=False: install retries exhausted" in out
    assert "cilium" not in out


def test_a_kind_nobody_serves_names_the_missing_crd_and_secrets_import(cluster: Cluster) -> None:
    name = "missing.yaml"
    body = """\
  k8s_manifest.gizmo:
    manifest:
      apiVersion: gizmos.example.com/v1
      kind: Gizmo
      metadata: {name: g, namespace: missing}
    depends_on: [k8s_manifest.ns]
"""
    cluster.write(
        spec("missing", body).replace(
            "{kubeconfig_path: kubeconfig}", "{kubeconfig_path: kubeconfig, crd_wait: 1}"
        ),
        name,
    )
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    assert (
        "Gizmo (gizmos.example.com/v1): the API group 'gizmos.example.com' is not served: "
        "is the CustomResourceDefinition for Gizmo (group gizmos.example.com) installed"
    ) in failed.stdout + failed.stderr

    # an existing Secret is imported with its values, which stay masked
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "legacy", "namespace": "missing"},
        "stringData": {"token": "IMPORTED-secret-4"},
    }
    cluster.call("POST", "/api/v1/namespaces/missing/secrets", body=secret, allow=(409,))
    name = "imported.yaml"
    cluster.write(
        spec(
            "missing",
            "  k8s_secret.legacy:\n    name: legacy\n    namespace: missing\n"
            "    data: {token: IMPORTED-secret-4}\n",
        ),
        name,
    )
    assert (
        cluster.cli("apply", "--auto-approve", "--target", "k8s_manifest.ns", spec=name).returncode
        == 0
    )
    imported = cluster.cli("import", "k8s_secret.legacy", "missing/legacy", spec=name)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    plan = cluster.cli("plan", "--detailed-exitcode", spec=name)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "IMPORTED-secret-4" not in imported.stdout + imported.stderr + plan.stdout


def test_a_wait_that_times_out_says_what_is_missing_and_the_latest_event(
    cluster: Cluster,
) -> None:
    name = "stuck.yaml"
    body = """\
  k8s_manifest.pod:
    manifest:
      apiVersion: v1
      kind: Pod
      metadata: {name: stuck, namespace: stuck}
      spec:
        containers: [{name: app, image: "nginx:1.27"}]
    wait_for: {conditions: [Ready], timeout: 3}
    depends_on: [k8s_manifest.ns]
"""
    cluster.write(spec("stuck", body), name)
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    # no CNI yet: the nodes are NotReady (tainted), the scheduler says so
    assert "v1 Pod stuck in namespace stuck is not ready after 3s" in out
    assert "PodScheduled=False: 0/1 nodes are available" in out, out
    assert "(latest event: FailedScheduling: 0/1 nodes are available" in out, out
    # the Pod that timed out is kept and waited for again, not deleted and recreated
    plan = cluster.cli("plan", spec=name)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "replace" not in plan.stdout
    assert "~ ready: false -> true" in plan.stdout, plan.stdout


def test_a_user_the_server_does_not_know_is_named_in_the_error(cluster: Cluster) -> None:
    doc = YAML(typ="safe", pure=True).load(cluster.kubeconfig.read_text())
    for user in doc["users"]:
        user["name"] = "nobody"
        user["user"] = {}  # no client certificate: the server cannot authenticate us
    for context in doc["contexts"]:
        context["context"]["user"] = "nobody"
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buffer)
    (cluster.dir / "anonymous.kubeconfig").write_text(buffer.getvalue())
    name = "anonymous.yaml"
    cluster.write(
        spec("anonymous", "").replace(
            "{kubeconfig_path: kubeconfig}", "{kubeconfig_path: anonymous.kubeconfig}"
        ),
        name,
    )
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "get API discovery of v1: 401 Unauthorized" in out, out
    assert "user 'nobody'" in out


def test_the_certificate_is_verified_for_the_kubeconfig_host(cluster: Cluster) -> None:
    """Mapped to loopback by --lab, the server must still prove it is 10.0.0.201."""
    doc = YAML(typ="safe", pure=True).load(cluster.kubeconfig.read_text())
    for entry in doc["clusters"]:
        entry["cluster"]["tls-server-name"] = "impostor.example.com"
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buffer)
    (cluster.dir / "impostor.kubeconfig").write_text(buffer.getvalue())
    name = "impostor.yaml"
    cluster.write(
        spec("impostor", "").replace(
            "{kubeconfig_path: kubeconfig}", "{kubeconfig_path: impostor.kubeconfig}"
        ),
        name,
    )
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "TLS certificate does not verify" in out, out
    assert "retrying" not in out  # permanent: no retry makes an impostor trustworthy


def install_helmrelease_crd(cluster: Cluster) -> str:
    cluster.call(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        body=HELMRELEASE_CRD,
        allow=(409,),
    )
    base = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/recheck/helmreleases"
    for _ in range(100):  # until the CRD is Established and its kind served
        if cluster.call("GET", base).status == 200:
            break
        time.sleep(0.1)
    return base


def test_a_check_is_evaluated_again_after_its_dependencies_change(cluster: Cluster) -> None:
    """The plan saw the check passing; applying a dependency breaks it: the apply fails."""
    base = install_helmrelease_crd(cluster)
    name = "recheck.yaml"

    def release(labels: str) -> str:
        return f"""\
  k8s_manifest.hr:
    manifest:
      apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      metadata: {{name: late, namespace: recheck, labels: {labels}}}
      spec: {{chart: {{spec: {{chart: late}}}}}}
    depends_on: [k8s_manifest.ns]
  k8s_check.releases:
    helmreleases_ready: {{selector: platform=recheck, namespace: recheck, min_count: 0}}
    timeout: 2
    interval: 1
    depends_on: [k8s_manifest.hr]
"""

    cluster.write(spec("recheck", release("{app: late}")), name)
    done = cluster.cli("apply", "--auto-approve", spec=name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.call("GET", f"{base}/late").status == 200

    # the release now matches the check's selector, and it is not Ready
    cluster.write(spec("recheck", release("{app: late, platform: recheck}")), name)
    plan = cluster.cli("plan", spec=name)
    assert "k8s_check.releases" not in plan.stdout  # passing when planned
    failed = cluster.cli("apply", "--auto-approve", spec=name)
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "HelmRelease recheck/late: condition Ready not reported yet" in out, out
