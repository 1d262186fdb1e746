"""The simulated cluster's persistent data, kept in ``world.data("proxmox")``.

Layout (JSON): ``nodes``, ``storages``, ``volumes`` (volid -> info), ``vms`` (vmid -> node,
config, status, started_at, image), ``users`` (userid -> tokens), ``acl`` entries, ``lab_token``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

from cozyplan.lab.framework import LabWorld
from cozyplan.lab.proxmox.errors import ApiError, no_such_vm

NODE = "pve"
NODE_IP = "10.0.0.1"
LAB_USER = "root@pam"
LAB_TOKEN = "cozyplan"
CLOUDINIT_SIZE = 4 * 1024**2

_SEED_STORAGES: dict[str, dict[str, Any]] = {
    "local": {
        "type": "dir",
        "content": ["iso", "import", "vztmpl", "backup"],
        "shared": 0,
        "path": "/var/lib/vz",
    },
    "local-lvm": {"type": "lvmthin", "content": ["images", "rootdir"], "shared": 0},
}


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Store:
    """Typed-ish accessors over the JSON data; call ``save()`` after each change."""

    def __init__(self, world: LabWorld) -> None:
        self.world = world
        self.data = world.data("proxmox")
        self._seed()

    def _seed(self) -> None:
        d = self.data
        d.setdefault("nodes", {NODE: {"ip": NODE_IP}})
        d.setdefault("storages", {k: dict(v) for k, v in _SEED_STORAGES.items()})
        d.setdefault("volumes", {})
        d.setdefault("vms", {})
        d.setdefault("users", {LAB_USER: {"enable": 1, "comment": "", "tokens": {}}})
        d.setdefault("acl", [])
        d.setdefault("pid", 4000)
        if "lab_token" not in d:
            secret = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
            d["lab_token"] = {"user": LAB_USER, "tokenid": LAB_TOKEN, "secret": secret}
            d["users"][LAB_USER]["tokens"][LAB_TOKEN] = {
                "privsep": 0,
                "comment": "cozyplan lab",
                "expire": 0,
                "hash": hash_secret(secret),
            }

    def save(self) -> None:
        self.world.save()

    # -- nodes & ids ---------------------------------------------------------------------------
    def check_node(self, node: str) -> None:
        if node not in self.data["nodes"]:
            raise ApiError(595, f"no such cluster node '{node}'")

    def next_pid(self) -> int:
        self.data["pid"] = int(self.data["pid"]) + 1
        return int(self.data["pid"])

    # -- VMs ------------------------------------------------------------------------------------
    def vms(self) -> dict[str, dict[str, Any]]:
        vms: dict[str, dict[str, Any]] = self.data["vms"]
        return vms

    def find_vm(self, vmid: int) -> dict[str, Any] | None:
        return self.vms().get(str(vmid))

    def vm(self, node: str, vmid: int) -> dict[str, Any]:
        self.check_node(node)
        vm = self.find_vm(vmid)
        if vm is None or vm["node"] != node:
            raise no_such_vm(node, vmid)
        return vm

    def add_vm(self, node: str, vmid: int, config: dict[str, Any]) -> dict[str, Any]:
        vm = {"node": node, "config": config, "status": "stopped", "started_at": None, "image": ""}
        self.vms()[str(vmid)] = vm
        return vm

    def remove_vm(self, vmid: int) -> None:
        self.vms().pop(str(vmid), None)

    def uptime(self, vm: dict[str, Any]) -> float:
        """Simulated seconds the VM has been running (0 when stopped)."""
        if vm["status"] != "running" or vm["started_at"] is None:
            return 0.0
        scale = self.world.time_scale or 1.0
        return max(0.0, (time.time() - float(vm["started_at"])) / scale)

    # -- storage --------------------------------------------------------------------------------
    def storage(self, node: str, storage: str) -> dict[str, Any]:
        self.check_node(node)
        found: dict[str, Any] | None = self.data["storages"].get(storage)
        if found is None:
            raise ApiError(500, f"storage '{storage}' does not exist")
        return found

    def volumes(self) -> dict[str, dict[str, Any]]:
        vols: dict[str, dict[str, Any]] = self.data["volumes"]
        return vols

    def alloc_disk(
        self, storage: str, vmid: int, size: int, *, base: bool = False, name: str | None = None
    ) -> str:
        info = self.data["storages"].get(storage)
        if info is None:
            raise ApiError(500, f"storage '{storage}' does not exist")
        if "images" not in info["content"]:
            raise ApiError(500, f"storage '{storage}' does not support vm images")
        if name is None:
            prefix = "base" if base else "vm"
            n = 0
            while f"{storage}:{prefix}-{vmid}-disk-{n}" in self.volumes():
                n += 1
            name = f"{prefix}-{vmid}-disk-{n}"
        volid = f"{storage}:{name}"
        if volid in self.volumes():
            raise ApiError(500, f"volume '{volid}' already exists")
        self.volumes()[volid] = {
            "size": size,
            "format": "raw",
            "content": "images",
            "vmid": vmid,
            "ctime": int(time.time()),
        }
        return volid

    def alloc_cloudinit(self, storage: str, vmid: int) -> str:
        """``vm-<vmid>-cloudinit`` (4 MiB; ``.qcow2`` on a directory storage), like
        qemu-server's ``create_disks`` for ``STORAGE:cloudinit``."""
        info = self.data["storages"].get(storage)
        name = f"vm-{vmid}-cloudinit"
        if info is not None and info.get("path"):
            name += ".qcow2"
        return self.alloc_disk(storage, vmid, CLOUDINIT_SIZE, name=name)

    # -- access ---------------------------------------------------------------------------------
    def users(self) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = self.data["users"]
        return users

    def user(self, userid: str) -> dict[str, Any]:
        found = self.users().get(userid)
        if found is None:
            raise ApiError(500, f"no such user ('{userid}')")
        return found

    def acl(self) -> list[dict[str, Any]]:
        acl: list[dict[str, Any]] = self.data["acl"]
        return acl

    def check_token(self, header: str) -> str:
        """Validate ``PVEAPIToken=user@realm!tokenid=secret``; return the full token id."""
        if not header.startswith("PVEAPIToken="):
            raise ApiError(401, "No ticket")
        rest = header[len("PVEAPIToken=") :]
        full, _, secret = rest.partition("=")
        userid, _, tokenid = full.partition("!")
        user = self.users().get(userid)
        token = (user or {}).get("tokens", {}).get(tokenid)
        if token is None or not secret or token["hash"] != hash_secret(secret):
            raise ApiError(401, "invalid token value!")
        expire = int(token.get("expire") or 0)
        if expire and expire < time.time():
            raise ApiError(401, "token expired")
        return full
