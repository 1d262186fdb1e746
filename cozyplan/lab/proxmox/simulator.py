"""``ProxmoxSimulator``: one simulated PVE node ``pve`` serving the API over HTTPS."""

from __future__ import annotations

from typing import Any, ClassVar

from cozyplan.lab.framework import LabError, LabWorld, Simulator, loopback_for
from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import ApiError
from cozyplan.lab.proxmox.routes_qemu import halt
from cozyplan.lab.proxmox.server import HttpsServer, make_app
from cozyplan.lab.proxmox.store import NODE_IP

API_PORT = 8006


class ProxmoxSimulator(Simulator):
    name: ClassVar[str] = "proxmox"

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        self.pve = Pve(world)
        self._server: HttpsServer | None = None
        self.host = loopback_for(NODE_IP)
        self.port = 0

    async def start(self) -> None:
        cert = self.world.ca.issue("proxmox", [self.host, NODE_IP, "localhost", "pve"])
        self._server = HttpsServer(make_app(self.pve), cert.server_context())
        self.port = await self._server.start(self.host, API_PORT)
        self.world.register_endpoint("proxmox", NODE_IP, API_PORT, self.host, self.port)
        self.world.register_endpoint("proxmox", self.host, self.port, self.host, self.port)
        self.pve.store.save()

    async def stop(self) -> None:
        await self.pve.tasks.drain()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self.world.unregister_endpoint("proxmox", NODE_IP, API_PORT)
        self.world.unregister_endpoint("proxmox", self.host, self.port)
        self.pve.store.save()

    async def ensure_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        """Any Proxmox API address in a spec is played by this node."""
        if service == "proxmox" and self._server is not None:
            return self.host, self.port
        return None

    def provider_settings(self) -> dict[str, Any]:
        token = self.pve.store.data["lab_token"]
        return {
            "endpoint": f"https://{NODE_IP}:{API_PORT}",
            "token_id": f"{token['user']}!{token['tokenid']}",
            "token_secret": token["secret"],
            "ca_file": str(self.world.ca.ca_file.resolve()),
            "verify_tls": True,
        }

    async def control(self, args: dict[str, Any]) -> dict[str, Any]:
        """``drift=stop-vm node=pve vmid=N``: stop a running VM out of band (as ``qm stop``)."""
        if args.get("drift") != "stop-vm":
            raise LabError("proxmox commands: drift=stop-vm [node=pve] vmid=N")
        node, vmid = str(args.get("node") or "pve"), int(args["vmid"])
        try:
            vm = self.pve.store.vm(node, vmid)
        except ApiError as exc:
            raise LabError(f"no VM {vmid} on node {node}: {exc}") from exc
        if vm["status"] != "running":
            raise LabError(f"VM {vmid} is not running")
        await halt(self.pve, "stop", node, vmid, vm)
        return {"vmid": vmid, "status": vm["status"]}

    def status(self) -> dict[str, Any]:
        store = self.pve.store
        return {
            "endpoint": f"https://{self.host}:{self.port}",
            "vms": len(store.vms()),
            "running": sum(1 for vm in store.vms().values() if vm["status"] == "running"),
            "volumes": len(store.volumes()),
            "tasks_running": self.pve.tasks.running_count(),
            "requests": dict(self.pve.requests),
            "requests_total": sum(self.pve.requests.values()),
            "faults_injected": dict(self.pve.faults.injected),
        }
