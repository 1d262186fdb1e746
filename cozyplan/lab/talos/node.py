"""One simulated Talos node: its persisted record, its apid listener, its lifecycle.

States: ``maintenance`` (no config: self-signed cert, no client cert asked) -> ``configured``
(mTLS with the cluster's OS CA from the applied config). Applying a config in maintenance mode,
or a change that needs a reboot, takes the listener down and brings it back after a scaled
delay, like a real reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from typing import TYPE_CHECKING, Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server
from talos_linux_api.v1_6_0.machine import ApplyConfigurationRequestMode as Mode

from cozyplan.lab.framework import loopback_for
from cozyplan.lab.talos import factory, machineconfig, pki
from cozyplan.lab.talos.params import (  # noqa: F401 - re-exported
    API_PORT,
    BOOT_SECONDS,
    ETCD_JOIN_SECONDS,
    INSTALL_REBOOT_SECONDS,
    REBOOT_SECONDS,
)
from cozyplan.lab.talos.service import MachineService

if TYPE_CHECKING:
    from cozyplan.lab.talos.simulator import TalosSimulator


class SimNode:
    def __init__(self, sim: TalosSimulator, ip: str, record: dict[str, Any]) -> None:
        self.sim = sim
        self.ip = ip
        self.record = record
        self.loopback = loopback_for(ip)
        self.port = API_PORT
        self._server: Server | None = None
        #: the node's port, bound (not listening) whenever apid is down: handed out to clients
        #: only once bound, so no other lab on this host can answer for this node
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._config_cache: machineconfig.NodeConfig | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def config(self) -> machineconfig.NodeConfig | None:
        text = self.record.get("config")
        if not text:
            return None
        if self._config_cache is None or self._config_cache.text != text:
            self._config_cache = machineconfig.parse(text.encode())
        return self._config_cache

    @property
    def maintenance(self) -> bool:
        return self.config is None

    @property
    def hostname(self) -> str:
        cfg = self.config
        if cfg is not None and cfg.hostname:
            return cfg.hostname
        return str(self.record.get("hostname") or "talos-" + self.ip.replace(".", "-"))

    @property
    def talos_version(self) -> str:
        return str(self.record.get("talos_version") or "v1.10.6")

    @property
    def fault(self) -> str | None:
        """Why this VM never brings Talos up (e.g. CPU type kvm64), or None."""
        fault = self.record.get("fault")
        return str(fault) if fault else None

    @property
    def extensions(self) -> tuple[str, ...] | None:
        """The system extensions of the image the VM booted (None: not known to the lab)."""
        exts = self.record.get("extensions")
        return None if exts is None else tuple(exts)

    @property
    def booting(self) -> bool:
        """A reboot or power-on is under way: the node will answer by itself."""
        return self._task is not None and not self._task.done()

    @property
    def up(self) -> bool:
        return self._server is not None

    def _save(self) -> None:
        self.sim.world.save()

    # -- listener ----------------------------------------------------------------------------
    def claim(self) -> tuple[str, int]:
        """Bind the node's port (without listening) and publish it: connections are refused
        until apid listens, and no other lab can take the port meanwhile."""
        if self._server is None and self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                try:
                    sock.bind((self.loopback, self.port))
                except OSError:
                    sock.bind((self.loopback, 0))
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self.port = sock.getsockname()[1]
        self.sim.world.register_endpoint("talos", self.ip, API_PORT, self.loopback, self.port)
        return self.loopback, self.port

    def release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    async def boot(self) -> None:
        if self._server is not None:
            return
        if self.fault:
            self.claim()  # the VM runs, its Talos never answers
            return
        cfg = self.config
        hosts = [self.ip, self.hostname]
        certdir = self.sim.world.dir / "talos" / self.ip
        if cfg is None:
            crt, key = pki.write_server_cert(certdir, hosts, None, None)
            ctx = pki.server_context(crt, key, None)
        else:
            # workers hold no CA key: like trustd, a control plane of the cluster signs for them
            ca_key = cfg.os_ca_key or self.sim.os_ca_key(cfg.cluster_id)
            if not ca_key:
                self._task = asyncio.get_running_loop().create_task(self._boot_later())
                return
            crt, key = pki.write_server_cert(certdir, hosts, cfg.os_ca_crt, ca_key)
            ctx = pki.server_context(crt, key, cfg.os_ca_crt)
        server = Server([MachineService(self)])
        self.claim()
        sock, self._sock = self._sock, None
        try:
            await server.start(sock=sock, ssl=ctx)  # listens on the port already published
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        self._server = server
        self.record["boots"] = int(self.record.get("boots", 0)) + 1
        self._save()
        self.sim.join_etcd(self)
        if cfg is not None:
            self.sim.node_up(self, cfg)

    async def _boot_later(self) -> None:
        """A worker waits for a control plane of its cluster before apid can serve."""
        await self.sim.world.sleep(BOOT_SECONDS)
        if self.record.get("powered", True):
            await self.boot()

    async def shutdown(self) -> None:
        """apid goes down (reboot, power off); the node keeps its port until it is stopped."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
            self.claim()

    async def stop(self, *, release: bool = True) -> None:
        """Power off (``release=False`` keeps the port: the VM still exists) or remove."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.shutdown()
        if release:
            self.release()

    def reboot(self, seconds: float) -> None:
        """Drop the listener right after the current reply, come back after ``seconds``."""

        async def cycle() -> None:
            await asyncio.sleep(0.05)  # let the reply reach the client
            await self.shutdown()
            staged = self.record.pop("staged", None)
            if staged:
                self.record["config"] = staged
            self.record["reboots"] = int(self.record.get("reboots", 0)) + 1
            self._save()
            await self.sim.world.sleep(seconds)
            if self.record.get("powered", True):
                try:
                    await self.boot()
                except Exception as exc:  # a lab bug must show, not leave the node silently down
                    print(f"lab talos {self.ip}: boot failed: {exc!r}", file=sys.stderr)
                    raise

        self._task = asyncio.get_running_loop().create_task(cycle())

    # -- machine API behaviour ---------------------------------------------------------------
    async def apply(self, data: bytes, mode: Mode, dry_run: bool) -> tuple[Mode, str]:
        try:
            new = machineconfig.parse(data)
        except machineconfig.ConfigRejected as exc:
            raise GRPCError(Status.INVALID_ARGUMENT, str(exc)) from None
        old = self.config
        if old is None:
            if mode not in (Mode.REBOOT, Mode.AUTO, Mode.TRY):
                raise GRPCError(
                    Status.INVALID_ARGUMENT,
                    f"apply configuration in maintenance mode only supports reboot, auto and "
                    f"try modes, got {mode.name.lower()}",
                )
            if dry_run:
                return Mode.REBOOT, "Dry run: the node would install and reboot"
            self.record["config"] = new.text
            self.record["apply_calls"] = int(self.record.get("apply_calls", 0)) + 1
            if self.record.get("image"):
                # a booted disk image has its META partition: Installed() is true, the
                # sequencer skips the install phase and machine.install.image never runs
                image = machineconfig.install_image(new)
                self.record["install"] = f"skipped (booted disk image); {image} not applied"
            self._save()
            self.reboot(INSTALL_REBOOT_SECONDS)
            return Mode.REBOOT, "Applied configuration: installing and rebooting"
        if new.machine_type != old.machine_type:
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"machine type can't be changed from {old.machine_type} to {new.machine_type}",
            )
        if mode is Mode.TRY:
            raise GRPCError(Status.UNIMPLEMENTED, "try mode is not simulated by the lab")
        reboot_for = machineconfig.needs_reboot(old, new)
        if dry_run:
            return mode, "Dry run summary: " + (", ".join(reboot_for) or "no reboot needed")
        self.record["apply_calls"] = int(self.record.get("apply_calls", 0)) + 1
        if mode is Mode.STAGED:
            self.record["staged"] = new.text
            self._save()
            return Mode.STAGED, "Staged configuration to be applied after the next reboot"
        if mode is Mode.NO_REBOOT and reboot_for:
            self._save()
            raise GRPCError(
                Status.FAILED_PRECONDITION,
                "apply configuration in no_reboot mode failed: changes to "
                + ", ".join(reboot_for)
                + " require a reboot",
            )
        self.record["config"] = new.text
        self.record.pop("staged", None)
        self._save()
        if mode is Mode.REBOOT or reboot_for:
            self.reboot(REBOOT_SECONDS)
            return Mode.REBOOT, "Applied configuration with a reboot"
        if new.os_ca_crt != old.os_ca_crt:
            self.reboot(0.0)  # apid restarts with certificates from the new CA
        return Mode.NO_REBOOT, "Applied configuration without a reboot"

    def _cluster(self) -> dict[str, Any]:
        cfg = self.config
        assert cfg is not None
        clusters: dict[str, Any] = self.sim.data.setdefault("clusters", {})
        entry: dict[str, Any] = clusters.setdefault(cfg.cluster_id, {"name": cfg.cluster_name})
        return entry

    def bootstrap(self) -> None:
        cfg = self.config
        assert cfg is not None
        self.record["bootstrap_calls"] = int(self.record.get("bootstrap_calls", 0)) + 1
        self._save()
        if not cfg.controlplane:
            raise GRPCError(
                Status.FAILED_PRECONDITION,
                "bootstrap can only be performed on a control plane node",
            )
        cluster = self._cluster()
        if cluster.get("bootstrapped_on"):
            raise GRPCError(Status.ALREADY_EXISTS, "etcd data directory is not empty")
        cluster["bootstrapped_on"] = self.ip
        cluster["members"] = {self.ip: self.hostname}
        self.record["bootstrapped"] = True
        self._save()
        self.sim.bootstrapped(self, cfg)

    def etcd_members(self) -> list[tuple[str, str]]:
        cfg = self.config
        assert cfg is not None
        members = self.sim.etcd_members(cfg.cluster_id)
        if not cfg.controlplane or self.ip not in {ip for _, ip in members}:
            raise GRPCError(Status.UNAVAILABLE, "etcd is not running on this node")
        return members

    def kubeconfig_archive(self) -> bytes:
        cfg = self.config
        assert cfg is not None
        if not cfg.controlplane:
            raise GRPCError(
                Status.FAILED_PRECONDITION, "kubeconfig is only available on control plane nodes"
            )
        text = pki.kubeconfig(cfg.cluster_name, cfg.endpoint, cfg.k8s_ca_crt, cfg.k8s_ca_key)
        return pki.tar_gz("kubeconfig", text.encode())

    def module_errors(self) -> list[str]:
        """Kernel modules the config loads that the booted image cannot provide (Talos's
        KernelModuleSpecController words)."""
        cfg, exts = self.config, self.extensions
        if cfg is None or exts is None:
            return []
        missing = factory.missing_modules(exts, machineconfig.kernel_modules(cfg))
        return [f'error loading module "{m}": module not found' for m in missing]

    def status(self) -> dict[str, Any]:
        exts = self.extensions
        return {
            "image": self.record.get("image"),
            "extensions": None if exts is None else list(exts),
            "fault": self.fault,
            "install": self.record.get("install"),
            "state": "maintenance" if self.maintenance else "configured",
            "type": self.config.machine_type if self.config else None,
            "hostname": self.hostname,
            "up": self.up,
            "powered": bool(self.record.get("powered", True)),
            "endpoint": f"{self.loopback}:{self.port}",
            "apply_calls": int(self.record.get("apply_calls", 0)),
            "bootstrap_calls": int(self.record.get("bootstrap_calls", 0)),
            "bootstrapped": bool(self.record.get("bootstrapped", False)),
            "reboots": int(self.record.get("reboots", 0)),
            "staged": bool(self.record.get("staged")),
        }
