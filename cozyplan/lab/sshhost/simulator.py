"""``HostSimulator``: simulated Proxmox VE hosts reachable over SSH on loopback.

Any address the spec names becomes a host on demand (``ensure_endpoint("ssh", address, port)``),
with its own persistent filesystem in ``world.data("host")["hosts"][address]``. All hosts share
one host key and accept one client key, both generated into ``<lab>/ssh/``; the host provider
gets them through ``provider_settings()`` as its ``defaults`` block.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cozyplan.lab.framework import LabError, LabWorld, Simulator, bind_server, loopback_for
from cozyplan.lab.sshhost.commands import PROGRAMS, REGISTRY
from cozyplan.lab.sshhost.commands.apt import ARCHIVE, PREINSTALLED
from cozyplan.lab.sshhost.commands.git import NEXCAGE_URL, nexcage_remote
from cozyplan.lab.sshhost.fakefs import FSError
from cozyplan.lab.sshhost.host import SimHost


def _key_pair(path: Path) -> bytes:
    """The OpenSSH public key of the ed25519 key at ``path`` (made, mode 0600, if absent).

    With ``cryptography``, not asyncssh: asyncssh (~0.1 s to import) loads with the first SSH
    server this lab starts, not with every lab.
    """
    if path.exists():
        key = serialization.load_ssh_private_key(path.read_bytes(), None)
    else:
        key = Ed25519PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.OpenSSH,
                    serialization.NoEncryption(),
                )
            )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    _write_if_changed(path.with_suffix(".pub"), public + b" cozyplan-lab\n")
    return public


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless it holds exactly that (each lab start would rewrite
    the same bytes: ~5-10 ms a file)."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    path.write_bytes(data)


class HostSimulator(Simulator):
    name = "host"
    server_modules = ("cozyplan.lab.sshhost.server",)

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        # absolute: providers resolve relative paths against the spec's directory
        self.key_dir = (world.dir / "ssh").resolve()
        self.key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        self.host_key_file = self.key_dir / "host_key"
        host_public = _key_pair(self.host_key_file)
        self.client_key_file = self.key_dir / "client_key"
        self.client_public = _key_pair(self.client_key_file)
        self.known_hosts_file = self.key_dir / "known_hosts"
        _write_if_changed(self.known_hosts_file, b"* " + host_public + b"\n")
        self.data = world.data("host")
        self.data.setdefault("hosts", {})
        self.data.setdefault("remotes", {}).setdefault(NEXCAGE_URL, nexcage_remote())
        self._hosts: dict[str, SimHost] = {}
        self._servers: dict[tuple[str, int], Any] = {}

    @classmethod
    def serves(cls, data: dict[str, Any]) -> bool:
        return any(host.get("ports") for host in (data.get("hosts") or {}).values())

    async def start(self) -> None:
        for name, info in list(self.data["hosts"].items()):
            for port in info.get("ports", []):
                await self.ensure_endpoint("ssh", name, port)

    async def stop(self) -> None:
        for (name, port), server in list(self._servers.items()):
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
            self.world.unregister_endpoint("ssh", name, port)
        self._servers.clear()

    def provider_settings(self) -> dict[str, Any]:
        return {
            "defaults": {
                "private_key_file": str(self.client_key_file),
                "known_hosts_file": str(self.known_hosts_file),
            }
        }

    def host(self, name: str) -> SimHost:
        """The simulated host playing ``name`` (created empty on first use)."""
        sim = self._hosts.get(name)
        if sim is None:
            fresh = name not in self.data["hosts"]
            data = self.data["hosts"].setdefault(name, {"ports": []})
            sim = SimHost(self.world, name, data, REGISTRY, PROGRAMS)
            if fresh:
                sim.packages.update({p: ARCHIVE[p] for p in PREINSTALLED})
            self._hosts[name] = sim
            self.world.save()
        return sim

    def add_remote(
        self, url: str, refs: dict[str, str], trees: dict[str, dict[str, str]], default: str
    ) -> None:
        """Make a git repository available to every simulated host at ``url``."""
        self.data["remotes"][url] = {"refs": refs, "trees": trees, "default": default}
        self.world.save()

    async def ensure_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        if service != "ssh":
            return None
        existing = self.world.lookup_endpoint(service, host, port)
        if existing is not None:
            return existing
        sim = self.host(host)
        address = loopback_for(host)

        import asyncssh

        from cozyplan.lab.sshhost.server import start_ssh_server

        host_key = asyncssh.read_private_key(str(self.host_key_file))
        authorized = asyncssh.import_authorized_keys(self.client_public.decode())

        async def start(addr: str, p: int) -> Any:
            return await start_ssh_server(sim, addr, p, host_key, authorized)

        server, real_port = await bind_server(start, address, port)
        self._servers[(host, port)] = server
        self.world.register_endpoint(service, host, port, address, real_port)
        ports: list[int] = sim.data.setdefault("ports", [])
        if port not in ports:
            ports.append(port)
            self.world.save()
        return address, real_port

    async def control(self, args: dict[str, Any]) -> dict[str, Any]:
        """``drift=host-file host=ADDR path=/etc/nexcage/config.json [key=runtime.log_level]
        [value=debug]``: edit a JSON file on a host out of band (as a hand edit over SSH)."""
        if args.get("drift") != "host-file":
            raise LabError("host commands: drift=host-file host=ADDR path=PATH [key=K] [value=V]")
        name, path = str(args["host"]), str(args["path"])
        if name not in self.data["hosts"]:
            raise LabError(f"no host {name!r} in this lab (hosts: {', '.join(self.data['hosts'])})")
        fs = self.host(name).fs
        try:
            doc = json.loads(fs.read(path))
        except (FSError, ValueError) as exc:
            raise LabError(f"{name}:{path}: {exc}") from exc
        *parents, leaf = str(args.get("key") or "runtime.log_level").split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = args.get("value") or "debug"
        fs.write(path, (json.dumps(doc, indent=2) + "\n").encode())
        self.world.save()
        return {"host": name, "path": path, "content": doc}

    def status(self) -> dict[str, Any]:
        return {"hosts": sorted(self.data["hosts"]), "key_dir": str(self.key_dir)}
