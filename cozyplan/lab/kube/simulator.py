"""``KubeSimulator``: one Kubernetes API server per bootstrapped lab cluster.

World events it listens to:
``talos.bootstrapped`` {cluster_id, cluster_name, endpoint, node, k8s_ca_crt, k8s_ca_key}: the
API of that cluster comes up on the endpoint (mapped to loopback), TLS from the cluster's CA;
``talos.node_up`` {cluster_id, hostname, node, machine_type, talos_version}: a Node for it;
``kube.cni_ready`` {cluster_id or endpoint, ready (default true)}: the cluster's nodes turn Ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from cozyplan.lab.framework import LabWorld, Simulator

if TYPE_CHECKING:
    from cozyplan.lab.kube.cluster import KubeCluster


class KubeSimulator(Simulator):
    name: ClassVar[str] = "kubernetes"
    server_modules = ("cozyplan.lab.kube.cluster",)

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        self.data: dict[str, Any] = world.data("kubernetes")
        self.records: dict[str, dict[str, Any]] = self.data.setdefault("clusters", {})
        self.clusters: dict[str, KubeCluster] = {}

    @classmethod
    def serves(cls, data: dict[str, Any]) -> bool:
        return bool(data.get("clusters"))

    async def start(self) -> None:
        self.world.subscribe("talos.bootstrapped", self._on_bootstrapped)
        self.world.subscribe("talos.node_up", self._on_node_up)
        self.world.subscribe("talos.node_down", self._on_node_down)
        self.world.subscribe("kube.cni_ready", self._on_cni_ready)
        self.world.subscribe("kube.lb_pool", self._on_lb_pool)
        self.world.subscribe("kube.provisioners", self._on_provisioners)
        for cluster_id, record in list(self.records.items()):
            if record.get("ca_crt"):
                await self._serve(cluster_id, record)

    async def stop(self) -> None:
        for cluster in list(self.clusters.values()):
            await cluster.stop()
        self.clusters.clear()
        self.world.save()

    # -- events ----------------------------------------------------------------------------------
    async def _on_bootstrapped(self, event: str, payload: dict[str, Any]) -> None:
        await self.start_cluster(
            str(payload["cluster_id"]),
            name=str(payload.get("cluster_name") or payload["cluster_id"]),
            endpoint=str(payload["endpoint"]),
            ca_crt=str(payload["k8s_ca_crt"]),
            ca_key=str(payload["k8s_ca_key"]),
        )

    async def _on_node_up(self, event: str, payload: dict[str, Any]) -> None:
        self.add_node(
            str(payload["cluster_id"]),
            str(payload.get("hostname") or payload["node"]),
            ip=str(payload.get("node", "")),
            role=str(payload.get("machine_type", "worker")),
            talos_version=str(payload.get("talos_version", "")),
        )

    async def _on_node_down(self, event: str, payload: dict[str, Any]) -> None:
        self.set_node_up(str(payload["cluster_id"]), str(payload["hostname"]), False)

    async def _on_cni_ready(self, event: str, payload: dict[str, Any]) -> None:
        self.set_cni_ready(self._find(payload), bool(payload.get("ready", True)))

    async def _on_lb_pool(self, event: str, payload: dict[str, Any]) -> None:
        self.set_lb_pool(self._find(payload), list(payload.get("pool") or []))

    async def _on_provisioners(self, event: str, payload: dict[str, Any]) -> None:
        found = payload.get("provisioners")
        self.set_provisioners(self._find(payload), None if found is None else list(found))

    def _find(self, payload: dict[str, Any]) -> str:
        if payload.get("cluster_id"):
            return str(payload["cluster_id"])
        endpoint = str(payload.get("endpoint", ""))
        want = urlparse(endpoint)
        for cid, record in self.records.items():
            got = urlparse(str(record.get("endpoint", "")))
            if (got.hostname, got.port or 6443) == (want.hostname, want.port or 6443):
                return cid
        raise LookupError(f"no lab Kubernetes cluster at {endpoint!r}")

    # -- API for other simulators and tests --------------------------------------------------------
    async def start_cluster(
        self, cluster_id: str, *, name: str, endpoint: str, ca_crt: str, ca_key: str
    ) -> KubeCluster:
        record = self.records.setdefault(cluster_id, {})
        record.update(name=name, endpoint=endpoint, ca_crt=ca_crt, ca_key=ca_key)
        self.world.save()
        return await self._serve(cluster_id, record)

    async def _serve(self, cluster_id: str, record: dict[str, Any]) -> KubeCluster:
        running = self.clusters.get(cluster_id)
        if running is not None:
            return running
        # the API server (aiohttp, the stores, the controllers) loads with the first cluster
        from cozyplan.lab.kube.cluster import KubeCluster

        cluster = KubeCluster(self.world, cluster_id, record)
        await cluster.start()
        self.clusters[cluster_id] = cluster
        return cluster

    def add_node(
        self,
        cluster_id: str,
        hostname: str,
        *,
        ip: str = "",
        role: str = "worker",
        talos_version: str = "",
    ) -> None:
        """A node joined the cluster (remembered even before its API server exists)."""
        record = self.records.setdefault(cluster_id, {})
        nodes = record.setdefault("nodes", {})
        info = {"ip": ip, "role": role, "talos_version": talos_version or "v1.10.6", "up": True}
        if nodes.get(hostname) == info:
            return
        nodes[hostname] = info
        self.world.save()
        cluster = self.clusters.get(cluster_id)
        if cluster is not None and cluster.controllers:
            cluster.node_controller().reconcile()

    def set_node_up(self, cluster_id: str, hostname: str, up: bool) -> None:
        """A node's kubelet posts status (or stopped: the Node turns Ready=Unknown)."""
        info = self.records.get(cluster_id, {}).get("nodes", {}).get(hostname)
        if info is None or info.get("up", True) == up:
            return
        info["up"] = up
        self.world.save()
        cluster = self.clusters.get(cluster_id)
        if cluster is not None and cluster.controllers:
            cluster.node_controller().reconcile()

    def set_cni_ready(self, cluster_id: str, ready: bool = True) -> None:
        """The cluster's pod network is up (or down): its nodes turn Ready (NotReady)."""
        record = self.records.setdefault(cluster_id, {})
        record["cni_ready"] = ready
        self.world.save()
        cluster = self.clusters.get(cluster_id)
        if cluster is not None and cluster.controllers:
            cluster.node_controller().reconcile()

    def set_provisioners(self, cluster_id: str, provisioners: list[str] | None) -> None:
        """Only these StorageClass provisioners bind claims (None: every one does)."""
        self._set(cluster_id, "provisioners", provisioners)

    def set_lb_pool(self, cluster_id: str, pool: list[str]) -> None:
        """Addresses (``a-b`` ranges, CIDRs or IPs) for LoadBalancer Services."""
        self._set(cluster_id, "lb_pool", pool)

    def _set(self, cluster_id: str, key: str, value: Any) -> None:
        self.records.setdefault(cluster_id, {})[key] = value
        self.world.save()
        cluster = self.clusters.get(cluster_id)
        if cluster is not None:
            for c in cluster.controllers:
                for rt in cluster.registry().values():
                    if c._wanted(rt):
                        for obj in cluster.store.items(rt):
                            c.enqueue(rt, obj)

    def status(self) -> dict[str, Any]:
        by_cluster = {cid: c.status() for cid, c in sorted(self.clusters.items())}
        return {
            "clusters": len(by_cluster),
            "objects": sum(c["objects"] for c in by_cluster.values()),
            "requests_total": sum(c["requests_total"] for c in by_cluster.values()),
            "by_cluster": by_cluster,
        }
