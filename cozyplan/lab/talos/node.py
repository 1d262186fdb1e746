"""One simulated Talos node: its persisted record, its apid listener, its lifecycle.

States: ``maintenance`` (no config: self-signed cert, no client cert asked) -> ``configured``
(mTLS with the cluster's OS CA from the applied config). Applying a config in maintenance mode,
or a change that needs a reboot, takes the listener down and brings it back after a scaled
delay, like a real reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server
from talos_linux_api.v1_6_0.machine import ApplyConfigurationRequestMode as Mode

from cozyplan.lab.framework import loopback_for
from cozyplan.lab.talos import machineconfig, pki
from cozyplan.lab.talos.service import MachineService

if TYPE_CHECKING:
    from cozyplan.lab.talos.simulator import TalosSimulator

API_PORT = 50000
#: simulated seconds (scaled by the world's time_scale)
INSTALL_REBOOT_SECONDS = 40.0
REBOOT_SECONDS = 20.0
BOOT_SECONDS = 10.0


class SimNode:
    def __init__(self, sim: TalosSimulator, ip: str, record: dict[str, Any]) -> None:
        self.sim = sim
        self.ip = ip
        self.record = record
        self.loopback = loopback_for(ip)
        self.port = API_PORT
        self._server: Server | None = None
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
    def booting(self) -> bool:
        """A reboot or power-on is under way: the node will answer by itself."""
        return self._task is not None and not self._task.done()

    @property
    def up(self) -> bool:
        return self._server is not None

    def _save(self) -> None:
        self.sim.world.save()

    # -- listener ----------------------------------------------------------------------------
    async def boot(self) -> None:
        if self._server is not None:
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
        try:
            await server.start(self.loopback, self.port, ssl=ctx)
        except OSError:
            await server.start(self.loopback, 0, ssl=ctx)
            sockets = getattr(server._server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else 0
        self._server = server
        self.sim.world.register_endpoint("talos", self.ip, API_PORT, self.loopback, self.port)
        self.record["boots"] = int(self.record.get("boots", 0)) + 1
        self._save()
        if cfg is not None:
            self.sim.node_up(self, cfg)

    async def _boot_later(self) -> None:
        """A worker waits for a control plane of its cluster before apid can serve."""
        await self.sim.world.sleep(BOOT_SECONDS)
        if self.record.get("powered", True):
            await self.boot()

    async def shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.shutdown()

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
        self.record["bootstrapped"] = True
        self._save()
        self.sim.bootstrapped(self, cfg)

    def etcd_members(self) -> list[tuple[str, str]]:
        cfg = self.config
        assert cfg is not None
        if not cfg.controlplane or not self._cluster().get("bootstrapped_on"):
            raise GRPCError(Status.UNAVAILABLE, "etcd is not running on this node")
        return self.sim.controlplanes(cfg.cluster_id)

    def kubeconfig_archive(self) -> bytes:
        cfg = self.config
        assert cfg is not None
        if not cfg.controlplane:
            raise GRPCError(
                Status.FAILED_PRECONDITION, "kubeconfig is only available on control plane nodes"
            )
        text = pki.kubeconfig(cfg.cluster_name, cfg.endpoint, cfg.k8s_ca_crt, cfg.k8s_ca_key)
        return pki.tar_gz("kubeconfig", text.encode())

    def status(self) -> dict[str, Any]:
        return {
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
