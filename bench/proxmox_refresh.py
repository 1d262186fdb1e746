"""Benchmark: requests per VM create, requests and wall time of refreshing 500 VMs, and of
30 parallel clones.

    python bench/proxmox_refresh.py

Runs the lab's Proxmox simulator in-process (time scale 1.0 for the clone part, so a clone
really takes the simulated 2 s) and drives the provider's resources with asyncio.gather, as the
engine does at ``--parallelism N``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import cozyplan.lab.runtime as runtime
from cozyplan.lab.proxmox import ProxmoxSimulator
from cozyplan.lab.runtime import InProcessLab
from cozyplan.plan import Action
from cozyplan.provider import ApplyContext, ProviderContext
from cozyplan_proxmox import ProxmoxProvider, TemplateResource, VmResource
from cozyplan_proxmox.config import ProxmoxConfig

VMS = 500
CLONES = 30
CREATES = 10


def provider(lab: InProcessLab, scale: float, **over: Any) -> ProxmoxProvider:
    settings = {**lab.provider_settings()["proxmox"], **over}
    ctx = ProviderContext(resolve_endpoint=lab.resolve, time_scale=scale)
    return ProxmoxProvider(ProxmoxConfig.model_validate(settings), ctx)


def sim(lab: InProcessLab) -> ProxmoxSimulator:
    found = lab.runtime.simulators[0]
    assert isinstance(found, ProxmoxSimulator)
    return found


def seed(lab: InProcessLab, count: int) -> list[dict[str, Any]]:
    """Put ``count`` running VMs straight into the simulated world (setup, not measured)."""
    store = sim(lab).pve.store
    states = []
    for i in range(count):
        vmid = 2000 + i
        volid = store.alloc_disk("local-lvm", vmid, 50 * 1024**3)
        vm = store.add_vm(
            "pve",
            vmid,
            {
                "name": f"vm-{i}",
                "cores": 2,
                "memory": 4096,
                "tags": "bench",
                "scsi0": f"{volid},size=50G",
                "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
            },
        )
        vm["status"], vm["started_at"] = "running", time.time()
        states.append(
            VmResource.model(
                vmid=vmid,
                name=f"vm-{i}",
                clone=9000,
                cores=2,
                memory=4096,
                tags=["bench"],
                disks=[{"slot": "scsi0", "storage": "local-lvm", "size": "50G"}],
                net=[{"slot": "net0", "bridge": "vmbr0"}],
                started=True,
            )
        )
    store.save()
    return [VmResource.dump(s) for s in states]


def requests(lab: InProcessLab) -> int:
    return sum(sim(lab).pve.requests.values())


async def refresh(
    lab: InProcessLab, states: list[dict[str, Any]], **over: Any
) -> tuple[int, float]:
    p = provider(lab, 1.0, **over)
    res = VmResource(p)
    before, start = requests(lab), time.perf_counter()
    found = await asyncio.gather(*(res.read_attrs(s) for s in states))
    elapsed = time.perf_counter() - start
    assert all(f is not None for f in found)
    await p.close()
    return requests(lab) - before, elapsed


async def naive(lab: InProcessLab, states: list[dict[str, Any]]) -> tuple[int, float]:
    """What per-VM providers do: config + status of every VM."""
    p = provider(lab, 1.0)
    before, start = requests(lab), time.perf_counter()

    async def one(vmid: int) -> None:
        await p.client.call("GET", f"nodes/pve/qemu/{vmid}/config")
        await p.client.call("GET", f"nodes/pve/qemu/{vmid}/status/current")

    await asyncio.gather(*(one(s["vmid"]) for s in states))
    elapsed = time.perf_counter() - start
    await p.close()
    return requests(lab) - before, elapsed


async def clones(lab: InProcessLab, limit: int, parallelism: int, base: int) -> tuple[int, float]:
    p = provider(lab, 1.0, clone_concurrency=limit, max_connections=32)
    vms = VmResource(p)
    gate = asyncio.Semaphore(parallelism)

    async def one(i: int) -> None:
        body = VmResource.dump(
            VmResource.model(vmid=base + i, name=f"c{base + i}", clone=9000, started=False)
        )
        async with gate:
            await vms.apply(Action.CREATE, None, body, [], ApplyContext(f"vm.c{i}"))

    before, start = requests(lab), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(CLONES)))
    elapsed = time.perf_counter() - start
    await p.close()
    return requests(lab) - before, elapsed


async def make_template(lab: InProcessLab) -> None:
    p = provider(lab, 1.0)
    body = TemplateResource.dump(
        TemplateResource.model(
            vmid=9000, name="base", disks=[{"slot": "scsi0", "storage": "local-lvm", "size": "8G"}]
        )
    )
    await TemplateResource(p).apply(Action.CREATE, None, body, [], ApplyContext("t"))
    await p.close()


async def creates(lab: InProcessLab, base: int) -> tuple[float, float]:
    """Requests per ``proxmox_vm`` create as the main spec writes one (full clone, boot disk
    grown, a data disk, cloud-init address, started), counted by the lab: (first VM, each
    further VM of the same kind)."""
    p = provider(lab, 1.0, clone_concurrency=CREATES, max_connections=32)
    vms = VmResource(p)

    def body(i: int) -> dict[str, Any]:
        return VmResource.dump(
            VmResource.model(
                vmid=base + i,
                name=f"cp{base + i}",
                clone=9000,
                storage="local-lvm",
                cores=4,
                memory=8192,
                disks=[
                    {"slot": "scsi0", "storage": "local-lvm", "size": "50G"},
                    {"slot": "scsi1", "storage": "local-lvm", "size": "100G"},
                ],
                tags=["cozystack"],
                ipconfig0=f"ip=10.0.{i // 200}.{10 + i % 200}/24,gw=10.0.0.1",
                ipv4_addresses=[f"10.0.{i // 200}.{10 + i % 200}"],
            )
        )

    async def one(i: int) -> None:
        await vms.apply(Action.CREATE, None, body(i), [], ApplyContext(f"vm.cp{i}"))

    before = requests(lab)
    await one(0)
    first = requests(lab) - before
    before = requests(lab)
    await asyncio.gather(*(one(i) for i in range(1, CREATES)))
    await p.close()
    return first, (requests(lab) - before) / (CREATES - 1)


def main() -> None:
    runtime.simulator_classes = lambda: [ProxmoxSimulator]
    with tempfile.TemporaryDirectory() as tmp:
        options = {
            "proxmox": {"latency": {"clone": 2.0, "create": 0.2, "template": 0.2, "config": 0.05}}
        }
        with InProcessLab(Path(tmp), time_scale=1.0, options=options) as lab:
            states = seed(lab, VMS)
            print(f"refresh of {VMS} VMs (summary matches state):")
            for label, run in (
                ("cluster/resources batching", refresh(lab, states)),
                ("batching + full_refresh", refresh(lab, states, full_refresh=True)),
                ("naive per-VM config+status", naive(lab, states)),
            ):
                n, secs = asyncio.run(run)
                print(f"  {label:30s} {n:5d} requests  {secs:6.2f} s")
            asyncio.run(make_template(lab))
            first, each = asyncio.run(creates(lab, 4000))
            print(
                f"requests per proxmox_vm create (clone, grow, data disk, cloud-init, start): "
                f"first {first:.0f}, then {each:.1f} each (target <= 8)"
            )
            print(f"{CLONES} full clones, 2 s simulated clone each, parallelism {CLONES}:")
            for limit, base in ((CLONES, 3000), (4, 3100), (1, 3200)):
                n, secs = asyncio.run(clones(lab, limit, CLONES, base))
                print(
                    f"  clone_concurrency={limit:<3d}            {n:5d} requests  {secs:6.2f} s"
                    f"  (serial would be {CLONES * 2} s)"
                )


if __name__ == "__main__":
    main()
