"""The lab's LINSTOR, volume binding and MetalLB, driven directly against a lab API server.

LINSTOR makes a pool only on a device the lab Proxmox VM playing the node really has (else
ZFS's error, as LINSTOR reports it); a PVC of a LINSTOR class binds per the class's rules;
MetalLB hands LoadBalancer Services addresses from its pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import cozyplan.lab.runtime as runtime
from cozyplan.lab.cozystack import crds
from cozyplan.lab.cozystack.client import KubeClient
from cozyplan.lab.cozystack.context import ClusterContext
from cozyplan.lab.cozystack.platform import apply_all
from cozyplan.lab.cozystack.storage import Linstor, MetalLB, Volumes
from cozyplan.lab.kube import KubeSimulator
from cozyplan.lab.kube.testing import LabCluster, on_lab, start_cluster
from cozyplan.upstream.cozystack import release

READY = {"cozy-linstor/linstor", "cozy-metallb/metallb"}
VM = {
    "node": "pve",
    "status": "running",
    "config": {
        "name": "node-1",
        "scsi0": "local-lvm:vm-1001-disk-0,size=50G",
        "ipconfig0": "ip=10.0.0.201/24,gw=10.0.0.1",
    },
}


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[runtime.InProcessLab]:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [KubeSimulator])
    with runtime.InProcessLab(tmp_path / "lab", time_scale=0.01) as handle:
        yield handle


@pytest.fixture
def env(lab: runtime.InProcessLab, tmp_path: Path) -> tuple[LabCluster, ClusterContext]:
    cluster = start_cluster(lab, nodes=("node-1",))
    world = lab.runtime.world
    record = world.data("kubernetes")["clusters"][cluster.cluster_id]
    client = KubeClient(
        f"https://{cluster.host}:{cluster.port}",
        "10.0.0.201",
        record["ca_crt"],
        record["ca_key"],
        user="test",
        field_manager="test",
        workdir=tmp_path / "certs",
    )
    world.data("proxmox").setdefault("vms", {})["1001"] = VM
    ctx = ClusterContext(
        cluster.cluster_id, world, client, release("v0.37.2"), {}, world.publish, {}
    )
    return cluster, ctx


def run(lab: runtime.InProcessLab, coro: Any) -> Any:
    return on_lab(lab, lambda: coro)


async def until(check: Any, attempts: int = 200) -> Any:
    for _ in range(attempts):
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def install_crds(ctx: ClusterContext) -> None:
    async def served() -> bool:
        ctx.client.forget_kinds()
        done = await apply_all(ctx, [*crds.piraeus(), *crds.metallb()])
        return done and await ctx.client.kind("metallb.io/v1beta1", "IPAddressPool") is not None

    await until(served)


def satellite_config(device: str) -> dict[str, Any]:
    return {
        "apiVersion": "piraeus.io/v1",
        "kind": "LinstorSatelliteConfiguration",
        "metadata": {"name": "data-node-1"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "node-1"},
            "storagePools": [
                {"name": "data", "zfsPool": {"zPool": "data"}, "source": {"hostDevices": [device]}}
            ],
        },
    }


def configured(sat: dict[str, Any] | None) -> dict[str, Any]:
    for cond in ((sat or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == "Configured":
            return dict(cond)
    return {}


def test_pool_only_on_a_disk_the_vm_has(lab: runtime.InProcessLab, env: Any) -> None:
    _, ctx = env
    linstor = Linstor(ctx)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        await install_crds(ctx)
        await ctx.client.apply(satellite_config("/dev/sdb"))
        await linstor.reconcile(READY)
        missing = configured(await ctx.client.get("piraeus.io/v1", "LinstorSatellite", "node-1"))
        VM["config"]["scsi1"] = "local-lvm:vm-1001-disk-1,size=100G"  # the data disk appears
        try:
            await linstor.reconcile(READY)
        finally:
            del VM["config"]["scsi1"]
        present = configured(await ctx.client.get("piraeus.io/v1", "LinstorSatellite", "node-1"))
        await ctx.client.close()
        return missing, present

    missing, present = run(lab, scenario())
    assert missing["status"] == "False"
    assert "(Node: 'node-1') Failed to create storage pool 'data'" in missing["message"]
    assert "cannot open '/dev/sdb': no such device in /dev" in missing["message"]
    assert present["status"] == "True"
    assert linstor.pools() == {"node-1": ["data"]}


def pvc(name: str, sc: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": sc,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def consumer(claim: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "consumer", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def test_pvcs_bind_per_storage_class(lab: runtime.InProcessLab, env: Any) -> None:
    _, ctx = env
    linstor = Linstor(ctx)
    volumes = Volumes(ctx, linstor)

    async def phase(name: str) -> str:
        obj = await ctx.client.get("v1", "PersistentVolumeClaim", name, "default")
        return str(((obj or {}).get("status") or {}).get("phase"))

    async def scenario() -> list[str]:
        await install_crds(ctx)
        await ctx.client.apply(satellite_config("/dev/sdb"))
        await linstor.reconcile(READY)
        path = release("v0.37.2").root / "e2e" / "storageclasses.yaml"
        for sc in yaml.safe_load_all(path.read_text()):
            await ctx.client.apply(sc)
        await ctx.client.apply(pvc("local-claim", "local"))
        await ctx.client.apply(pvc("replicated-claim", "replicated"))
        await volumes.reconcile()
        seen = [await phase("local-claim"), await phase("replicated-claim")]
        await ctx.client.apply(consumer("local-claim"))
        await volumes.reconcile()
        seen.append(await phase("local-claim"))
        claim = await ctx.client.get("v1", "PersistentVolumeClaim", "local-claim", "default")
        volume = str(((claim or {}).get("spec") or {}).get("volumeName"))
        pv = await ctx.client.get("v1", "PersistentVolume", volume)
        seen.append(str(((pv or {}).get("spec") or {}).get("claimRef", {}).get("name")))
        await ctx.client.close()
        return seen

    VM["config"]["scsi1"] = "local-lvm:vm-1001-disk-1,size=100G"
    try:
        local_alone, replicated, local_used, pv_claim = run(lab, scenario())
    finally:
        VM["config"].pop("scsi1", None)
    assert local_alone != "Bound"  # WaitForFirstConsumer: no pod uses it yet
    assert replicated != "Bound"  # autoPlace 3, but one node has the pool
    assert local_used == "Bound"
    assert pv_claim == "local-claim"


def test_metallb_assigns_pool_addresses(lab: runtime.InProcessLab, env: Any) -> None:
    _, ctx = env
    metallb = MetalLB(ctx)

    async def scenario() -> list[str]:
        await install_crds(ctx)
        await ctx.client.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cozy-metallb"}}
        )
        for obj in yaml.safe_load_all(
            (release("v0.37.2").root / "e2e" / "metallb.yaml").read_text()
        ):
            if obj["kind"] == "IPAddressPool":
                obj["spec"]["addresses"] = ["10.0.0.150-10.0.0.151"]
            await ctx.client.apply(obj)
        for name in ("a", "b", "c"):
            await ctx.client.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
                }
            )

        async def ips() -> list[str]:
            out = []
            for name in ("a", "b", "c"):
                svc = await ctx.client.get("v1", "Service", name, "default")
                ingress = ((svc or {}).get("status") or {}).get("loadBalancer", {}).get("ingress")
                out.append(ingress[0]["ip"] if ingress else "")
            return out

        await metallb.reconcile(set())  # MetalLB not installed: nothing is handed out
        await asyncio.sleep(0.2)
        before = await ips()
        await metallb.reconcile(READY)

        async def two_assigned() -> list[str] | None:
            got = await ips()
            return got if sum(1 for ip in got if ip) == 2 else None

        after = await until(two_assigned)
        await asyncio.sleep(0.2)
        after = await ips()  # the third stays pending: the pool has two addresses
        await ctx.client.close()
        return [*before, *after]

    got = run(lab, scenario())
    assert got[:3] == ["", "", ""]
    assert sorted(got[3:]) == ["", "10.0.0.150", "10.0.0.151"]
