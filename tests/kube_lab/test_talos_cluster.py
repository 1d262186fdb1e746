"""The API comes up when Talos bootstraps, with Talos's CA; the admin kubeconfig works as is;
Nodes appear for the cluster's Talos nodes, NotReady until the CNI is reported ready."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kubernetes import client, config

import cozyplan.lab.runtime as runtime
from cozyplan.lab.kube import KubeSimulator
from cozyplan.lab.talos import TalosSimulator
from cozyplan.provider import ApplyContext, ProviderContext
from cozyplan_talos import TalosConfig, TalosProvider, yamlio
from cozyplan_talos.resources import TalosBootstrap, TalosKubeconfig, TalosNode
from tests.kube_lab.conftest import TIME_SCALE
from tests.kube_lab.helpers import wait_until
from tests.talos.helpers import rendered


def _ready(v1: client.CoreV1Api) -> dict[str, str]:
    out = {}
    for node in v1.list_node().items:
        conditions = (node.status.conditions if node.status else None) or []
        cond = next((c for c in conditions if c.type == "Ready"), None)
        out[node.metadata.name] = cond.status if cond else "Unknown"
    return out


def test_bootstrap_starts_the_api_with_the_talos_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [KubeSimulator, TalosSimulator])
    actx = ApplyContext("test")
    with runtime.InProcessLab(tmp_path / "lab", time_scale=TIME_SCALE) as lab:
        ctx = ProviderContext(
            base_dir=tmp_path, resolve_endpoint=lab.resolve, time_scale=TIME_SCALE
        )
        provider = TalosProvider(TalosConfig(poll_interval=5), ctx)

        async def build() -> str:
            cp = await rendered(provider)
            worker = await rendered(provider, secrets_yaml=cp.secrets, machine_type="worker")
            node = TalosNode(provider)
            for ip, cfg in (("10.0.0.201", cp), ("10.0.0.202", worker)):
                attrs = {
                    "address": ip,
                    "machine_config": cfg.machine_config,
                    "talosconfig": cp.talosconfig,
                }
                await node.create(node.parse(attrs), actx)
            with pytest.raises(Exception, match="nothing in the lab plays kubernetes"):
                lab.resolve("kubernetes", "10.0.0.201", 6443)  # no API before bootstrap
            boot = TalosBootstrap(provider)
            await boot.create(
                boot.parse({"node": "10.0.0.201", "talosconfig": cp.talosconfig}), actx
            )
            kc = TalosKubeconfig(provider)
            got = await kc.create(
                kc.parse({"node": "10.0.0.201", "talosconfig": cp.talosconfig}), actx
            )
            assert got.kubeconfig is not None
            return got.kubeconfig

        kubeconfig = asyncio.run(build())
        host, port = wait_until(lambda: _resolve(lab))
        cfg = client.Configuration()
        config.load_kube_config_from_dict(yamlio.load(kubeconfig), client_configuration=cfg)
        assert cfg.host == "https://10.0.0.201:6443"
        cfg.host = f"https://{host}:{port}"  # the provider's --lab mapping; TLS still verified
        v1 = client.CoreV1Api(client.ApiClient(cfg))
        assert {ns.metadata.name for ns in v1.list_namespace().items} >= {"default", "kube-system"}
        wait_until(lambda: len(_ready(v1)) == 2)  # the control plane and the worker
        nodes = {n.metadata.name: n for n in v1.list_node().items}
        assert len(nodes) == 2 and set(_ready(v1).values()) == {"False"}
        cp_node = next(
            n
            for n in nodes.values()
            if "node-role.kubernetes.io/control-plane" in n.metadata.labels
        )
        assert cp_node.status.addresses[0].address == "10.0.0.201"
        assert [t.key for t in cp_node.spec.taints] == ["node.kubernetes.io/not-ready"]
        # the CozyStack lab reports the CNI installed: nodes turn Ready, the taint goes
        future = asyncio.run_coroutine_threadsafe(
            lab.runtime.world.publish("kube.cni_ready", {"endpoint": "https://10.0.0.201:6443"}),
            lab.loop,
        )
        future.result(10)
        wait_until(lambda: set(_ready(v1).values()) == {"True"})
        assert not v1.read_node(cp_node.metadata.name).spec.taints
    # the cluster, its objects and its nodes survive a lab restart
    with runtime.InProcessLab(tmp_path / "lab", time_scale=TIME_SCALE) as lab:
        host, port = wait_until(lambda: _resolve(lab))
        cfg.host = f"https://{host}:{port}"
        v1 = client.CoreV1Api(client.ApiClient(cfg))
        assert set(_ready(v1).values()) == {"True"}


def _resolve(lab: runtime.InProcessLab) -> tuple[str, int] | None:
    try:
        return lab.resolve("kubernetes", "10.0.0.201", 6443)
    except Exception:
        return None
