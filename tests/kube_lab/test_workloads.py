"""Controllers: Deployments through ReplicaSets to pods, the scheduler against NotReady nodes,
DaemonSets, Jobs, StatefulSets with volume claims, dynamic provisioning, LoadBalancers, and
pods that crash-loop or fail to pull."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from cozyplan.lab.kube.testing import on_lab, set_cni_ready, simulator, start_cluster
from cozyplan.lab.runtime import InProcessLab
from tests.kube_lab.conftest import Kubectl
from tests.kube_lab.helpers import wait_until


def _template(app: str, image: str = "nginx:1.27", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": image}], **spec},
    }


def _deployment(name: str, replicas: int = 2, **kw: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, **kw),
        },
    }


def _pods(v1: client.CoreV1Api, selector: str, ns: str = "default") -> list[Any]:
    return list(v1.list_namespaced_pod(ns, label_selector=selector).items)


def _available(apps: client.AppsV1Api, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, "default")
    return any(c.type == "Available" and c.status == "True" for c in d.status.conditions or [])


def test_deployment_replicasets_pods_and_rollout(api: client.ApiClient) -> None:
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", _deployment("web", 3))
    wait_until(lambda: _available(apps, "web"))
    d = apps.read_namespaced_deployment("web", "default")
    assert (d.status.ready_replicas, d.status.updated_replicas, d.status.observed_generation) == (
        3,
        3,
        1,
    )
    pods = _pods(v1, "app=web")
    assert len(pods) == 3 and {p.status.phase for p in pods} == {"Running"}
    assert {p.spec.node_name for p in pods} == {"node-1"}
    rs = apps.list_namespaced_replica_set("default").items
    assert [r.metadata.owner_references[0].name for r in rs] == ["web"]
    assert pods[0].metadata.owner_references[0].kind == "ReplicaSet"
    # a new template rolls out a new ReplicaSet; the old one is scaled to zero
    apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}},
    )
    wait_until(
        lambda: (
            {p.spec.containers[0].image for p in _pods(v1, "app=web")} == {"nginx:1.28"}
            and len(_pods(v1, "app=web")) == 3
        )
    )
    wait_until(lambda: apps.read_namespaced_deployment("web", "default").status.ready_replicas == 3)
    replicas = sorted(r.spec.replicas for r in apps.list_namespaced_replica_set("default").items)
    assert replicas == [0, 3]
    # deleting the Deployment collects its ReplicaSets and their pods
    apps.delete_namespaced_deployment("web", "default")
    wait_until(
        lambda: not _pods(v1, "app=web") and not apps.list_namespaced_replica_set("default").items
    )


def test_nodes_not_ready_until_cni(lab: InProcessLab, tmp_path: Path) -> None:
    cluster = start_cluster(lab, "https://10.0.0.211:6443", nodes=("cp", "w1"), cni_ready=False)
    (tmp_path / "kc").write_text(cluster.loopback_kubeconfig)
    api = config.new_client_from_config(str(tmp_path / "kc"))
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", _deployment("app", 1))
    cni = {
        "metadata": {"name": "cilium"},
        "spec": {
            "selector": {"matchLabels": {"app": "cilium"}},
            "template": _template("cilium", tolerations=[{"operator": "Exists"}]),
        },
    }
    apps.create_namespaced_daemon_set("default", cni)
    apps.create_namespaced_daemon_set(
        "default",
        {
            "metadata": {"name": "plain"},
            "spec": {"selector": {"matchLabels": {"app": "plain"}}, "template": _template("plain")},
        },
    )
    wait_until(
        lambda: apps.read_namespaced_daemon_set("cilium", "default").status.number_ready == 2
    )
    pending = wait_until(lambda: [p for p in _pods(v1, "app=app") if p.status.conditions])
    cond = pending[0].status.conditions[0]
    assert (pending[0].status.phase, cond.reason) == ("Pending", "Unschedulable")
    assert cond.message.startswith(
        "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    )
    plain = apps.read_namespaced_daemon_set("plain", "default").status
    assert (plain.desired_number_scheduled, plain.number_ready) == (0, 0)
    set_cni_ready(lab, cluster.cluster_id)
    wait_until(lambda: _available(apps, "app"))
    wait_until(lambda: apps.read_namespaced_daemon_set("plain", "default").status.number_ready == 2)


def test_job_completes(kubectl: Kubectl) -> None:
    job = """
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: default}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: [sh, -c, "true"]}]
"""
    kubectl("apply", "--server-side", "-f", "-", input=job)
    kubectl("wait", "--for=condition=Complete", "job/once", "--timeout=30s")
    pods = kubectl(
        "get",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=once",
        "-o",
        "jsonpath={.items[*].status.phase}",
        check=False,
    ).stdout
    rows = kubectl("get", "job", "once").stdout.splitlines()
    assert rows[1].split()[:3] == ["once", "Complete", "2/2"]
    assert pods.split() == ["Succeeded", "Succeeded"]


def _class(storage: client.StorageV1Api, name: str, mode: str, default: bool = False) -> None:
    ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    storage.create_storage_class(
        {
            "metadata": {"name": name, "annotations": ann},
            "provisioner": "csi.proxmox.sinextra.dev",
            "volumeBindingMode": mode,
            "reclaimPolicy": "Delete",
        }
    )


def test_storage_binding(api: client.ApiClient) -> None:
    v1, storage, apps = client.CoreV1Api(api), client.StorageV1Api(api), client.AppsV1Api(api)
    _class(storage, "fast", "Immediate", default=True)
    _class(storage, "lazy", "WaitForFirstConsumer")
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    v1.create_namespaced_persistent_volume_claim("default", claim)
    bound = wait_until(
        lambda: (
            (p := v1.read_namespaced_persistent_volume_claim("data", "default")).status.phase
            == "Bound"
            and p
        )
    )
    assert bound.spec.storage_class_name == "fast"
    pv = v1.read_persistent_volume(bound.spec.volume_name)
    assert pv.spec.claim_ref.name == "data" and pv.status.phase == "Bound"
    # WaitForFirstConsumer: Pending until a pod uses it, bound to the pod's node
    lazy = {
        "metadata": {"name": "lazy"},
        "spec": {
            "storageClassName": "lazy",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    v1.create_namespaced_persistent_volume_claim("default", lazy)
    assert v1.read_namespaced_persistent_volume_claim("lazy", "default").status.phase == "Pending"
    v1.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "consumer"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "lazy"}}],
            },
        },
    )
    wait_until(
        lambda: (
            v1.read_namespaced_persistent_volume_claim("lazy", "default").status.phase == "Bound"
        )
    )
    wait_until(lambda: v1.read_namespaced_pod("consumer", "default").status.phase == "Running")
    # a used claim is protected; deleting the pod releases it and its volume goes
    v1.delete_namespaced_persistent_volume_claim("lazy", "default")
    held = v1.read_namespaced_persistent_volume_claim("lazy", "default")
    assert held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    v1.delete_namespaced_pod("consumer", "default")
    wait_until(
        lambda: (
            "lazy"
            not in {
                c.metadata.name for c in v1.list_namespaced_persistent_volume_claim("default").items
            }
        )
    )
    wait_until(lambda: len(v1.list_persistent_volume().items) == 1)
    # a StatefulSet's claim templates give each pod its claim
    sts = {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": _template("db"),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "lazy",
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    apps.create_namespaced_stateful_set("default", sts)
    wait_until(
        lambda: apps.read_namespaced_stateful_set("db", "default").status.ready_replicas == 2
    )
    names = sorted(p.metadata.name for p in _pods(v1, "app=db"))
    assert names == ["db-0", "db-1"]
    for n in names:
        assert (
            v1.read_namespaced_persistent_volume_claim(f"data-{n}", "default").status.phase
            == "Bound"
        )


@pytest.mark.parametrize(
    "lab_options", [{"image_pull_errors": ["missing/"], "crashing_images": ["crashy"]}]
)
def test_failing_pods(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    for name, image in (("pull", "missing/app:1"), ("crash", "crashy:1")):
        v1.create_namespaced_pod(
            "default",
            {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": image}]}},
        )

    def reason(name: str) -> str | None:
        statuses = v1.read_namespaced_pod(name, "default").status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting.reason if waiting else None

    wait_until(lambda: reason("pull") == "ImagePullBackOff")
    wait_until(lambda: reason("crash") == "CrashLoopBackOff")
    wait_until(
        lambda: (
            v1.read_namespaced_pod("crash", "default").status.container_statuses[0].restart_count
            >= 1
        )
    )


def test_load_balancer_address_from_pool(
    api: client.ApiClient, lab: InProcessLab, cluster: Any
) -> None:
    v1 = client.CoreV1Api(api)
    svc = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    v1.create_namespaced_service("default", svc)
    assert v1.read_namespaced_service("lb", "default").status.load_balancer.ingress is None
    on_lab(lab, simulator(lab).set_lb_pool, cluster.cluster_id, ["10.0.0.240-10.0.0.241"])
    got = wait_until(
        lambda: v1.read_namespaced_service("lb", "default").status.load_balancer.ingress
    )
    assert got[0].ip == "10.0.0.240"


def test_node_down_and_back(api: client.ApiClient, lab: InProcessLab, cluster: Any) -> None:
    v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", _deployment("web", 2))
    wait_until(lambda: _available(apps, "web"))
    sim = simulator(lab)
    on_lab(lab, sim.set_node_up, cluster.cluster_id, "node-1", False)  # its VM stopped

    def ready() -> str:
        node = v1.read_node("node-1")
        return next(c.status for c in node.status.conditions if c.type == "Ready")

    wait_until(lambda: ready() == "Unknown")
    node = v1.read_node("node-1")
    assert sorted((t.key, t.effect) for t in node.spec.taints) == [
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
    ]
    wait_until(lambda: not _available(apps, "web"))
    on_lab(lab, sim.set_node_up, cluster.cluster_id, "node-1", True)
    wait_until(lambda: ready() == "True")
    wait_until(lambda: _available(apps, "web"))
