"""capmox v0.7.4's controllers, as a client of the lab's Kubernetes API and of the lab's
Proxmox VE (real HTTPS API, the API token from the ProxmoxCluster's ``credentialsRef``).

ProxmoxCluster (``internal/controller/proxmoxcluster_controller.go``): nothing happens until a
Cluster owns it ("Waiting for Cluster Controller to set OwnerRef on ProxmoxCluster"); then the
credentials Secret must exist and Proxmox must answer with them (else ``ClusterReady`` False,
``ProxmoxUnreachable``), and it is Ready. ``insecure`` unset means insecure, as upstream
(``pkg/scope/cluster.go``).

ProxmoxMachine (``internal/service/vmservice/vm.go``): waits for its cluster's
infrastructure and the Machine's bootstrap data, then clones ``templateID`` from
``sourceNode`` to the next allowed node (``VMProvisioned`` False ``Cloning``; a refusal is
``CloningFailed`` with Proxmox's message), configures CPU, memory, network and the boot disk,
starts the VM, takes the next free address of ``ipv4Config`` and is Ready. With
``checks.skipQemuGuestAgent`` / ``skipCloudInitStatus`` it does not ask the guest agent. A
deleted ProxmoxMachine stops and destroys its VM before its finalizer goes.
Simplified: addresses come straight from the ProxmoxCluster's ranges (upstream claims them
through the in-cluster IPAM provider's ``IPAddressClaim``s); no bootstrap ISO is uploaded.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterator
from typing import Any

from cozyplan.lab.cozystack.capi import (
    CAPI,
    CAPMOX_DEPLOYMENT,
    CLUSTER_LABEL,
    INFRA,
    OPERATOR,
    available,
    capi_condition,
    owner_of,
    set_status,
)
from cozyplan.lab.cozystack.context import ClusterContext, Obj
from cozyplan.lab.cozystack.pve import Pve, PveError

FINALIZER = "proxmoxmachine.infrastructure.cluster.x-k8s.io"
CLUSTER_FINALIZER = "proxmoxcluster.infrastructure.cluster.x-k8s.io"
VM_PROVISIONED = "VMProvisioned"
MAX_STEPS = 8


def _b64(data: Obj, key: str) -> str | None:
    value = (data or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def _is_true(text: str | None) -> bool:
    return (text or "").lower() in ("1", "on", "true", "yes", "y")


def _addresses(ranges: list[str]) -> Iterator[ipaddress.IPv4Address]:
    for text in ranges:
        if "-" in text:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
        else:
            net = ipaddress.IPv4Network(text, strict=False)
            first, last = net[0], net[-1]
        ip = first
        while ip <= last:
            yield ip
            ip += 1


def _cond(kind: str, status: str, reason: str = "", message: str = "") -> Obj:
    return capi_condition(kind, status, reason, message)


class Capmox:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self._clients: dict[tuple[str, ...], Pve] = {}

    async def _running(self) -> str | None:
        """The namespace capmox runs in, once its Deployment is Available."""
        for provider in await self.ctx.client.list(OPERATOR, "InfrastructureProvider"):
            if provider["metadata"]["name"] != "proxmox":
                continue
            ns = provider["metadata"]["namespace"]
            dep = await self.ctx.client.get("apps/v1", "Deployment", CAPMOX_DEPLOYMENT, ns)
            if available(dep):
                return str(ns)
        return None

    async def reconcile(self) -> None:
        if await self.ctx.client.kind(INFRA, "ProxmoxMachine") is None:
            self.ctx.client.forget_kinds()
            return
        if await self._running() is None:
            return
        c = self.ctx.client
        clusters = await c.list(INFRA, "ProxmoxCluster")
        for pc in clusters:
            await self._cluster(pc)
        by_key = {
            (pc["metadata"]["namespace"], pc["metadata"]["name"]): pc
            for pc in await c.list(INFRA, "ProxmoxCluster")
        }
        machines = await c.list(INFRA, "ProxmoxMachine")
        for pm in machines:
            # steps that need no waiting follow each other at once, as upstream's requeues do
            for _ in range(MAX_STEPS):
                version = pm["metadata"].get("resourceVersion")
                try:
                    await self._machine(pm, by_key, machines)
                except PveError as exc:
                    await set_status(
                        self.ctx,
                        pm,
                        {"conditions": [_cond(VM_PROVISIONED, "False", "TaskFailure", str(exc))]},
                    )
                    break
                meta = pm["metadata"]
                fresh = await c.get(INFRA, "ProxmoxMachine", meta["name"], meta["namespace"])
                if fresh is None or fresh["metadata"].get("resourceVersion") == version:
                    break
                pm.clear()
                pm.update(fresh)

    # -- Proxmox access --------------------------------------------------------------------
    async def _client(self, pc: Obj) -> Pve:
        ref = (pc.get("spec") or {}).get("credentialsRef") or {}
        name = ref.get("name")
        namespace = ref.get("namespace") or pc["metadata"]["namespace"]
        if not name:
            raise PveError("no credentials found: the ProxmoxCluster has no credentialsRef")
        secret = await self.ctx.client.get("v1", "Secret", name, namespace)
        if secret is None:
            raise PveError(f'failed to get credentials secret: secrets "{name}" not found')
        data = secret.get("data") or {}
        url, token, value = _b64(data, "url"), _b64(data, "token"), _b64(data, "secret")
        if not url or not token or not value:
            raise PveError("credentials secret must have url, token and secret")
        insecure_text = _b64(data, "insecure")
        insecure = insecure_text is None or _is_true(insecure_text)
        root_ca = _b64(data, "root_ca")
        key = (url, token, value, str(insecure), root_ca or "")
        client = self._clients.get(key)
        if client is None:
            client = Pve(
                self.ctx.world,
                url.rstrip("/"),
                token,
                value,
                insecure=insecure,
                root_ca=root_ca,
            )
            self._clients[key] = client
        return client

    # -- ProxmoxCluster --------------------------------------------------------------------
    async def _cluster(self, pc: Obj) -> None:
        meta = pc["metadata"]
        if meta.get("deletionTimestamp"):
            await self._cluster_deleted(pc)
            return
        if owner_of(pc, "Cluster") is None:
            return  # "Waiting for Cluster Controller to set OwnerRef on ProxmoxCluster"
        if CLUSTER_FINALIZER not in (meta.get("finalizers") or []):
            await self.ctx.client.merge_patch(
                pc,
                {"metadata": {"finalizers": [*(meta.get("finalizers") or []), CLUSTER_FINALIZER]}},
            )
        try:
            pve = await self._client(pc)
            await pve.get("version")
        except PveError as exc:
            await set_status(
                self.ctx,
                pc,
                {
                    "ready": False,
                    "conditions": [
                        _cond("ClusterReady", "False", "ProxmoxUnreachable", str(exc)),
                        _cond("Ready", "False", "ProxmoxUnreachable", str(exc)),
                    ],
                },
            )
            return
        await set_status(
            self.ctx,
            pc,
            {
                "ready": True,
                "inClusterIpPoolRef": [{"name": f"{meta['name']}-v4-icip"}],
                "conditions": [_cond("ClusterReady", "True"), _cond("Ready", "True")],
            },
        )

    async def _cluster_deleted(self, pc: Obj) -> None:
        """``reconcileDelete``: wait for the cluster's machines to be deleted."""
        meta = pc["metadata"]
        left = [
            m
            for m in await self.ctx.client.list(
                INFRA, "ProxmoxMachine", meta["namespace"], f"{CLUSTER_LABEL}={meta['name']}"
            )
        ]
        if left:
            return
        finalizers = [f for f in meta.get("finalizers") or [] if f != CLUSTER_FINALIZER]
        await self.ctx.client.merge_patch(pc, {"metadata": {"finalizers": finalizers or None}})

    # -- ProxmoxMachine --------------------------------------------------------------------
    async def _machine(
        self, pm: Obj, clusters: dict[tuple[str, str], Obj], machines: list[Obj]
    ) -> None:
        c = self.ctx.client
        meta, spec = pm["metadata"], pm.get("spec") or {}
        ns = meta["namespace"]
        pc = clusters.get((ns, str((meta.get("labels") or {}).get(CLUSTER_LABEL))))
        if meta.get("deletionTimestamp"):
            await self._delete_vm(pm, pc)
            return
        machine_name = owner_of(pm, "Machine")
        if machine_name is None:
            return  # "Machine Controller has not yet set OwnerRef"
        if FINALIZER not in (meta.get("finalizers") or []):
            await c.merge_patch(
                pm, {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}}
            )
        if pc is None or not (pc.get("status") or {}).get("ready"):
            await self._waiting(pm, "WaitingForClusterInfrastructure")
            return
        machine = await c.get(CAPI, "Machine", machine_name, ns)
        data_name = (((machine or {}).get("spec") or {}).get("bootstrap") or {}).get(
            "dataSecretName"
        )
        if not data_name or await c.get("v1", "Secret", data_name, ns) is None:
            await self._waiting(pm, "WaitingForBootstrapData")
            return
        pve = await self._client(pc)
        status = pm.get("status") or {}
        if status.get("ready"):
            return
        node = str(status.get("proxmoxNode") or spec.get("sourceNode"))
        task = status.get("taskRef")
        if task:
            done = await pve.task_done(node, str(task))
            if done is None:
                return
            if done != "OK":
                await set_status(
                    self.ctx,
                    pm,
                    {"conditions": [_cond(VM_PROVISIONED, "False", "TaskFailure", done)]},
                )
            await c.patch_status(pm, {"taskRef": None})
            return
        vmid = spec.get("virtualMachineID")
        if vmid is None:
            await self._clone(pve, pm, pc)
            return
        await self._provision(pve, pm, pc, int(vmid), node, machines)

    async def _waiting(self, pm: Obj, reason: str) -> None:
        await set_status(
            self.ctx, pm, {"ready": False, "conditions": [_cond(VM_PROVISIONED, "False", reason)]}
        )

    async def _clone(self, pve: Pve, pm: Obj, pc: Obj) -> None:
        meta, spec = pm["metadata"], pm.get("spec") or {}
        source = str(spec.get("sourceNode"))
        allowed = (spec.get("allowedNodes") or (pc.get("spec") or {}).get("allowedNodes")) or []
        target = str(allowed[0]) if allowed else source
        params: dict[str, Any] = {"name": meta["name"]}
        if spec.get("full") is not None:
            params["full"] = 1 if spec["full"] else 0
        if spec.get("storage"):
            params["storage"] = spec["storage"]
        if allowed:
            params["target"] = target
        try:
            newid = int(await pve.get("cluster/nextid"))
            upid = await pve.post(
                f"nodes/{source}/qemu/{spec.get('templateID')}/clone", newid=newid, **params
            )
        except PveError as exc:
            await set_status(
                self.ctx,
                pm,
                {
                    "ready": False,
                    "conditions": [_cond(VM_PROVISIONED, "False", "CloningFailed", str(exc))],
                },
            )
            return
        await self.ctx.client.merge_patch(pm, {"spec": {"virtualMachineID": newid}})
        await self.ctx.client.patch_status(
            pm,
            {
                "taskRef": str(upid),
                "proxmoxNode": target,
                "vmStatus": "pending",
                "conditions": [_cond(VM_PROVISIONED, "False", "Cloning")],
            },
        )

    async def _provision(
        self, pve: Pve, pm: Obj, pc: Obj, vmid: int, node: str, machines: list[Obj]
    ) -> None:
        spec, status = pm.get("spec") or {}, pm.get("status") or {}
        base = f"nodes/{node}/qemu/{vmid}"
        if status.get("vmStatus") == "pending":
            net = (spec.get("network") or {}).get("default") or {}
            params: dict[str, Any] = {}
            for key, field in (("sockets", "numSockets"), ("cores", "numCores")):
                if spec.get(field):
                    params[key] = spec[field]
            if spec.get("memoryMiB"):
                params["memory"] = spec["memoryMiB"]
            if net.get("bridge"):
                params["net0"] = f"{net.get('model') or 'virtio'},bridge={net['bridge']}"
            try:
                if params:
                    await pve.put(f"{base}/config", **params)
                boot = (spec.get("disks") or {}).get("bootVolume") or {}
                if boot.get("disk") and boot.get("sizeGb"):
                    await self._grow(pve, base, str(boot["disk"]), int(boot["sizeGb"]))
            except PveError as exc:
                await set_status(
                    self.ctx,
                    pm,
                    {"conditions": [_cond(VM_PROVISIONED, "False", "VMProvisionFailed", str(exc))]},
                )
                return
            await self.ctx.client.patch_status(pm, {"vmStatus": "configured"})
            return
        current = await pve.get(f"{base}/status/current")
        if current.get("status") != "running":
            try:
                upid = await pve.post(f"{base}/status/start")
            except PveError as exc:
                await set_status(
                    self.ctx,
                    pm,
                    {"conditions": [_cond(VM_PROVISIONED, "False", "PoweringOnFailed", str(exc))]},
                )
                return
            await self.ctx.client.patch_status(
                pm,
                {
                    "taskRef": str(upid),
                    "conditions": [_cond(VM_PROVISIONED, "False", "PoweringOn")],
                },
            )
            return
        address = self._address(pm, pc, machines)
        if address is None:
            await self._waiting(pm, "WaitingForStaticIPAllocation")
            return
        await self.ctx.client.merge_patch(pm, {"spec": {"providerID": f"proxmox://{vmid}"}})
        await self.ctx.client.patch_status(
            pm,
            {
                "ready": True,
                "vmStatus": "ready",
                "addresses": [
                    {"type": "Hostname", "address": pm["metadata"]["name"]},
                    {"type": "InternalIP", "address": address},
                ],
                "ipAddresses": {"net0": {"ipv4": address}},
                "conditions": [_cond(VM_PROVISIONED, "True"), _cond("Ready", "True")],
            },
        )

    async def _grow(self, pve: Pve, base: str, disk: str, size_gb: int) -> None:
        config = await pve.get(f"{base}/config")
        value = str(config.get(disk) or "")
        for part in value.split(","):
            if part.startswith("size="):
                text = part[5:]
                unit = text[-1:] if text[-1:] in "KMGT" else ""
                number = float(text[:-1] if unit else text)
                gib = (
                    number
                    * {"": 1 / 1024**3, "K": 1 / 1024**2, "M": 1 / 1024, "G": 1, "T": 1024}[unit]
                )
                if gib < size_gb:
                    await pve.put(f"{base}/resize", disk=disk, size=f"{size_gb}G")
                return

    def _address(self, pm: Obj, pc: Obj, machines: list[Obj]) -> str | None:
        v4 = (pc.get("spec") or {}).get("ipv4Config") or {}
        cluster = (pm["metadata"].get("labels") or {}).get(CLUSTER_LABEL)
        used = {
            ((m.get("status") or {}).get("ipAddresses") or {}).get("net0", {}).get("ipv4")
            for m in machines
            if (m["metadata"].get("labels") or {}).get(CLUSTER_LABEL) == cluster
            and m["metadata"]["name"] != pm["metadata"]["name"]
        }
        for ip in _addresses([str(a) for a in v4.get("addresses") or []]):
            if str(ip) not in used:
                return str(ip)
        return None

    async def _delete_vm(self, pm: Obj, pc: Obj | None) -> None:
        meta, spec, status = pm["metadata"], pm.get("spec") or {}, pm.get("status") or {}
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        vmid = spec.get("virtualMachineID")
        if vmid is not None and pc is not None:
            pve = await self._client(pc)
            node = str(status.get("proxmoxNode") or spec.get("sourceNode"))
            task = status.get("taskRef")
            if task and await pve.task_done(node, str(task)) is None:
                return
            found = [
                vm
                for vm in await pve.get("cluster/resources", type="vm")
                if int(vm.get("vmid", -1)) == int(vmid)
            ]
            if found:
                base = f"nodes/{found[0]['node']}/qemu/{vmid}"
                if found[0].get("status") == "running":
                    upid = await pve.post(f"{base}/status/stop")
                else:
                    upid = await pve.delete(base)
                await self.ctx.client.patch_status(
                    pm,
                    {
                        "taskRef": str(upid),
                        "conditions": [_cond(VM_PROVISIONED, "False", "Deleting")],
                    },
                )
                return
        left = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        await self.ctx.client.merge_patch(pm, {"metadata": {"finalizers": left or None}})
