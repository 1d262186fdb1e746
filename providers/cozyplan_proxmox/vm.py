"""``proxmox_vm``: a clone of a template, configured, sized, started."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from cozyplan.provider import (
    ApplyContext,
    Change,
    PermanentError,
    PlanError,
    Resource,
    TemporaryError,
    is_unknown,
)
from cozyplan_proxmox import ownership
from cozyplan_proxmox.cozystack import cpu_warnings
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.guest import agent_ipv4
from cozyplan_proxmox.models import VmModel
from cozyplan_proxmox.normalize import (
    DISK_KEY_RE,
    config_int,
    normalize_tags,
    size_bytes,
    static_ipv4,
    truthy,
)
from cozyplan_proxmox.ownership import foreign, with_mark
from cozyplan_proxmox.provider import ProxmoxProvider
from cozyplan_proxmox.qemu import (
    current_status,
    destroy,
    disk_options_param,
    disks_from_config,
    extra_from_config,
    get_config,
    grow_disks,
    net_param,
    nets_from_config,
    new_disk_param,
    set_power,
    vm_path,
    wait_unlocked,
)
from cozyplan_proxmox.vmview import (
    cloudinit_slot,
    needs_reboot,
    predicted_clone,
    read_view,
    settle,
)


def observed(
    current: VmModel, config: dict[str, Any], running: bool, pending: list[str] | None = None
) -> VmModel:
    """The VM as Proxmox reports it, in the spec's form (fields the spec leaves open stay so).

    ``config`` is the configured one (pending values applied): a value waiting for a reboot is
    not drift, it is listed in ``pending``."""

    def opt(field: str, value: Any) -> Any:
        return value if getattr(current, field) is not None else None

    return current.model_copy(
        update={
            "name": str(config.get("name", "")),
            "cores": opt("cores", config_int(config.get("cores")) or 1),
            "sockets": opt("sockets", config_int(config.get("sockets")) or 1),
            "memory": opt("memory", config_int(config.get("memory")) or 512),
            "cpu": opt("cpu", config.get("cpu")),
            "agent": opt("agent", truthy(config.get("agent", "0"))),
            "disks": disks_from_config(config, current.disks),
            "net": nets_from_config(config, current.net),
            "tags": normalize_tags(config.get("tags", "")),
            "ipconfig0": opt("ipconfig0", config.get("ipconfig0")),
            "nameserver": opt("nameserver", config.get("nameserver")),
            "cloudinit": opt("cloudinit", cloudinit_slot(config) is not None),
            "extra": extra_from_config(config, current.extra),
            "started": running,
            "pending": list(pending or []),
        }
    )


def summary_matches(current: VmModel, entry: Mapping[str, Any]) -> bool:
    """True when ``/cluster/resources`` agrees with state, so no config read is needed."""
    if entry.get("lock") or entry.get("name") != current.name:
        return False
    if (entry.get("status") == "running") != current.started:
        return False
    if normalize_tags(entry.get("tags", "")) != current.tags:
        return False
    if current.memory is not None and int(entry.get("maxmem", 0)) != current.memory * 1024**2:
        return False
    if current.cores is not None:
        vcpus = current.cores * (current.sockets or 1)
        if int(entry.get("maxcpu", 0)) != vcpus:
            return False
    boot = next((d for d in current.disks if d.slot in ("scsi0", "virtio0")), None)
    return not (boot and boot.size and int(entry.get("maxdisk", 0)) != size_bytes(boot.size))


_COLD_FIELDS = ("cores", "sockets", "memory", "cpu", "agent", "extra")
_CLOUDINIT_SLOTS = ("ide2", "ide0", "ide1", "ide3", "sata5", "sata4")


def _first_storage(m: VmModel) -> str | None:
    return m.disks[0].storage if m.disks else None


class VmResource(Resource[ProxmoxProvider, VmModel]):
    type_name: ClassVar[str] = "proxmox_vm"
    import_unknowable: ClassVar[tuple[str, ...]] = ("clone", "full", "storage")
    model: ClassVar[type[VmModel]] = VmModel
    description: ClassVar[str] = "A VM cloned from a proxmox_vm_template."

    # -- read --------------------------------------------------------------------------------
    async def read(self, current: VmModel) -> VmModel | None:
        if current.vmid is None:
            return None
        entry = await self.provider.inventory.get(current.vmid)
        if entry is None or entry.get("template"):
            return None
        if not self.provider.config.full_refresh and summary_matches(current, entry):
            return current
        view = await read_view(self.provider.client, current.node, current.vmid)
        if view is None:
            return None
        return observed(current, view.configured, entry.get("status") == "running", view.pending)

    # -- plan checks -------------------------------------------------------------------------
    def check_plan(self, prior: VmModel | None, planned: Mapping[str, Any]) -> None:
        disks = planned.get("disks")
        if prior is None or not isinstance(disks, list):
            return
        before = {d.slot: d.size for d in prior.disks if d.size}
        for disk in disks:
            if not isinstance(disk, Mapping) or is_unknown(disk.get("size")):
                continue
            slot, size = disk.get("slot"), disk.get("size")
            if not isinstance(slot, str) or not isinstance(size, str | int) or slot not in before:
                continue
            if size_bytes(size) < size_bytes(before[slot]):
                raise PlanError(
                    f"disk {slot} of VM {prior.name!r} cannot shrink from {before[slot]} to "
                    f"{size}: Proxmox VE only grows disks (replace the VM to start smaller)",
                    field=f"disks.{slot}.size",
                )

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        out = cpu_warnings(planned.get("cpu")) if "cpu" in planned else []
        if planned.get("cloudinit") is False and (
            planned.get("ipconfig0") or planned.get("nameserver")
        ):
            out.append(
                "ipconfig0/nameserver reach the guest only through a cloud-init drive, and "
                "cloudinit is false: the guest gets no address from them"
            )
        pending = planned.get("pending")
        if isinstance(pending, list) and pending:
            out.append(
                f"{', '.join(map(str, pending))} of the running VM wait for its next reboot "
                "(pending in Proxmox VE)"
            )
        return out

    def update_notes(
        self, prior: Mapping[str, Any], planned: Mapping[str, Any], changes: Sequence[Change]
    ) -> list[str]:
        """Which changes a running VM takes only on a reboot, and what apply will do."""
        if not prior.get("started") or not planned.get("started"):
            return []
        cold = sorted(
            {
                str(c.path[0]) if c.path[0] != "extra" else str(c.path[-1])
                for c in changes
                if c.path
                and c.path[0] in _COLD_FIELDS
                and (c.path[0] != "extra" or needs_reboot(str(c.path[-1])))
            }
        )
        if not cold:
            return []
        how = (
            "apply reboots it after the change (one VM at a time)"
            if planned.get("reboot", "after_change") == "after_change"
            else "reboot: never leaves them pending"
        )
        return [
            f"requires reboot: {', '.join(cold)}: the running VM takes the new value only on a "
            f"reboot; {how}"
        ]

    async def check_create(self, planned: Mapping[str, Any], takeover: str | None) -> list[str]:
        vmid, name = planned.get("vmid"), planned.get("name")
        if not isinstance(vmid, int) or isinstance(vmid, bool):
            return []  # allocated at apply: never an existing VM
        entry = await self.provider.inventory.get(vmid)
        if entry is None:
            return []
        if entry.get("template") or (isinstance(name, str) and entry.get("name") != name):
            raise PlanError(
                f"vmid {vmid} is already used by {'template' if entry.get('template') else 'VM'}"
                f" {entry.get('name')!r}; cozyplan never overwrites it: choose another vmid"
            )
        node = str(planned.get("node") or entry.get("node") or "pve")
        config = await get_config(self.provider.client, node, vmid, current=True)
        owner = foreign(self.provider.ctx.lineage, (config or {}).get("description"))
        return ownership.check(f"VM {vmid} ({name})", owner, takeover, "deletes and re-creates")

    # -- create ------------------------------------------------------------------------------
    async def create(self, planned: VmModel, ctx: ApplyContext) -> VmModel:
        vmid = planned.vmid
        if vmid is None:
            vmid = self.provider.vmids.reserved(ctx.address)
        if vmid is None:
            vmid = await self.provider.vmids.allocate(ctx.address)
            ctx.progress(f"allocated vmid {vmid}")
        else:
            self.provider.vmids.reserve(ctx.address, vmid)
        await ctx.checkpoint({"vmid": vmid})
        m = planned.model_copy(update={"vmid": vmid})
        return await self.provider.retrying(lambda: self._create(m, vmid, ctx))

    async def _create(self, m: VmModel, vmid: int, ctx: ApplyContext) -> VmModel:
        """Clone first and ask later: a vmid that exists answers the clone with ``already
        exists``, and only then is the VM read (ours to adopt, or someone else's)."""
        client = self.provider.client
        if await self._clone(m, vmid, ctx):
            template = await self.provider.templates.get(m.node, m.clone)
            predicted = predicted_clone(template, vmid, m.name, m.storage if m.full else None)
            return await self._converge(m, vmid, predicted, ctx, running=False)
        config = await wait_unlocked(client, m.node, vmid, f"VM {vmid}")
        if config is None:
            raise TemporaryError(f"VM {vmid} vanished while cozyplan was creating it")
        if config.get("name") != m.name:
            raise PermanentError(
                f"vmid {vmid} is already used by VM {config.get('name')!r}; cozyplan never "
                f"overwrites it: choose another vmid for {m.name!r}"
            )
        owner = foreign(self.provider.ctx.lineage, config.get("description"))
        if owner is not None and ctx.takeover is None:
            raise ownership.refuse_at_apply(f"VM {vmid} ({m.name})", owner, ctx.address)
        if owner is not None and ctx.takeover == "replace":
            ctx.progress(f"VM {vmid} belongs to {owner}: deleting it (--replace)")
            await destroy(client, m.node, vmid)
            return await self._create(m, vmid, ctx)
        ctx.progress(f"VM {vmid} ({m.name}) already exists: adopting")
        view = await read_view(client, m.node, vmid)
        status = await current_status(client, m.node, vmid)
        return await self._converge(
            m, vmid, view.configured if view else config, ctx, running=status == "running"
        )

    async def _clone(self, m: VmModel, vmid: int, ctx: ApplyContext) -> bool:
        """Clone the template to ``vmid``; False when the vmid already exists."""
        client = self.provider.client
        storage = m.storage or "(source)"
        async with self.provider.clones.slot(m.node, m.clone, storage):
            ctx.progress(f"cloning {m.clone} -> {vmid} ({'full' if m.full else 'linked'})")
            try:
                await client.run_task(
                    "POST",
                    vm_path(m.node, m.clone) + "/clone",
                    m.node,
                    f"clone {m.clone} to {vmid}",
                    newid=vmid,
                    name=m.name,
                    full=m.full,
                    storage=m.storage if m.full else None,
                )
            except ApiPermanentError as exc:
                if "already exists" not in exc.pve_message:
                    raise
                return False  # ours from a lost earlier attempt, or not ours: read it
        return True

    async def _converge(
        self,
        m: VmModel,
        vmid: int,
        config: dict[str, Any],
        ctx: ApplyContext,
        *,
        running: bool,
    ) -> VmModel:
        """Bring the VM to ``m`` from ``config`` (its configured state) and ``running``.

        Writes are tracked locally (``settle``), so no config is read back; a running VM
        whose change is pending is rebooted per ``m.reboot``."""
        client = self.provider.client
        params = self._config_changes(m, config)
        pending: list[str] = []
        if params:
            # a write that allocates a volume (a new disk, the cloud-init drive) is not
            # idempotent: Proxmox refuses the second allocation ("volume ... already exists")
            # or leaves an unused copy. No blind re-send: the step fails temporary and its
            # retry reads the config again and sends only what is still missing.
            allocates = any(
                k not in config and DISK_KEY_RE.match(k) for k in params if k != "delete"
            )
            await client.call(
                "PUT", vm_path(m.node, vmid) + "/config", retries=0 if allocates else None, **params
            )
            if running:
                view = await read_view(client, m.node, vmid)
                pending = view.pending if view else []
        await grow_disks(client, m.node, vmid, m.disks, config)
        config = settle(config, params, vmid, m.disks)
        if pending and m.started:
            if m.reboot == "after_change":
                async with self.provider.reboots:
                    ctx.progress(f"VM {vmid}: rebooting to apply {', '.join(pending)}")
                    await client.run_task_once(
                        "POST",
                        vm_path(m.node, vmid) + "/status/reboot",
                        m.node,
                        f"reboot VM {vmid}",
                    )
                pending = []
            else:
                ctx.progress(f"VM {vmid}: {', '.join(pending)} pending until its next reboot")
        await set_power(client, m.node, vmid, m.started, "running" if running else "stopped")
        result = observed(m, config, m.started, pending)
        return result.model_copy(
            update={"ipv4_addresses": await self._addresses(result, vmid, config, ctx)}
        )

    def _config_changes(self, m: VmModel, config: dict[str, Any]) -> dict[str, Any]:
        want: dict[str, Any] = {
            "cores": m.cores,
            "sockets": m.sockets,
            "memory": m.memory,
            "cpu": m.cpu,
            "ipconfig0": m.ipconfig0,
            "nameserver": m.nameserver,
            **m.extra,
        }
        if m.agent is not None:
            want["agent"] = 1 if m.agent else 0
        params: dict[str, Any] = {}
        for key, value in want.items():
            if value is None:
                continue
            current = config.get(key)
            if key in ("cores", "sockets", "memory"):
                current = config_int(current)
            elif key == "agent":
                current = 1 if truthy(current or "0") else 0
            if current != value:
                params[key] = value
        lineage = self.provider.ctx.lineage
        if foreign(lineage, config.get("description")) is not None:
            params["description"] = with_mark(str(config.get("description") or ""), lineage)
        tags = ";".join(m.tags)
        if normalize_tags(config.get("tags", "")) != m.tags:
            params["tags"] = tags if tags else None
            if not tags:
                params["delete"] = "tags"
        for net in m.net:
            have = nets_from_config(config, [net])
            if not have or have[0] != net:
                mac = have[0].macaddr if have and not net.macaddr else net.macaddr
                raw = config.get(net.slot)
                if raw and not mac:
                    mac = str(raw).split(",")[0].partition("=")[2] or None
                params[net.slot] = net_param(net.model_copy(update={"macaddr": mac}))
        ci_slot = cloudinit_slot(config)
        if m.cloudinit and ci_slot is None:
            slot = next(s for s in _CLOUDINIT_SLOTS if s not in config)
            storage = m.cloudinit_storage or m.storage or _first_storage(m) or "local-lvm"
            params[slot] = f"{storage}:cloudinit"
        elif m.cloudinit is False and ci_slot is not None:
            params["delete"] = ",".join(filter(None, [params.get("delete"), ci_slot]))
        for disk in m.disks:
            raw = config.get(disk.slot)
            if raw is None:
                params[disk.slot] = new_disk_param(disk)
                continue
            have_disk = disks_from_config(config, [disk])[0]
            if have_disk.storage != disk.storage:
                raise PermanentError(
                    f"disk {disk.slot} of VM {m.name!r} is on {have_disk.storage!r}, spec says "
                    f"{disk.storage!r}; moving disks is not supported (replace the VM)"
                )
            changed = disk_options_param(str(raw), disk)
            if changed is not None:
                params[disk.slot] = changed
        return params

    async def _addresses(
        self, m: VmModel, vmid: int, config: dict[str, Any], ctx: ApplyContext
    ) -> list[str]:
        if m.ipv4_addresses is not None and not is_unknown(m.ipv4_addresses):
            return list(m.ipv4_addresses)
        if not m.started:
            return []
        static = static_ipv4(m.ipconfig0 or config.get("ipconfig0"))
        if static:
            return static
        if not truthy(config.get("agent", "0")):
            ctx.progress(
                f"VM {vmid}: no guest agent configured, ipv4_addresses left empty "
                "(set ipv4_addresses or ipconfig0 in the spec)"
            )
            return []
        return await agent_ipv4(self.provider.client, m.node, vmid, m.name, m.agent_timeout)

    # -- update / delete ---------------------------------------------------------------------
    async def update(
        self, prior: VmModel, planned: VmModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> VmModel:
        vmid = prior.vmid
        if vmid is None:
            raise PermanentError(f"{ctx.address}: no vmid in state")
        m = planned.model_copy(update={"vmid": vmid})

        async def run() -> VmModel:
            client = self.provider.client
            if await wait_unlocked(client, m.node, vmid, f"VM {vmid}") is None:
                raise PermanentError(f"VM {vmid} ({m.name}) no longer exists; refresh first")
            removed = {d.slot for d in prior.disks} - {d.slot for d in m.disks}
            removed |= {n.slot for n in prior.net} - {n.slot for n in m.net}
            if removed:
                await client.call(
                    "PUT", vm_path(m.node, vmid) + "/config", delete=",".join(sorted(removed))
                )
            view = await read_view(client, m.node, vmid)
            if view is None:
                raise PermanentError(f"VM {vmid} ({m.name}) no longer exists; refresh first")
            status = await current_status(client, m.node, vmid)
            return await self._converge(m, vmid, view.configured, ctx, running=status == "running")

        return await self.provider.retrying(run)

    async def delete(self, prior: VmModel, ctx: ApplyContext) -> None:
        if prior.vmid is None:
            return
        vmid = prior.vmid
        await self.provider.retrying(lambda: destroy(self.provider.client, prior.node, vmid))

    async def import_resource(self, import_id: str) -> VmModel | None:
        """``node/vmid`` or ``vmid``."""
        node, _, raw = import_id.rpartition("/")
        if not raw.isdigit():
            raise PermanentError(
                f"import id must be NODE/VMID or VMID (e.g. pve/1001), got {import_id!r}"
            )
        config = await get_config(self.provider.client, node or "pve", int(raw))
        if config is None:
            return None
        return VmModel(node=node or "pve", vmid=int(raw), name=str(config["name"]), clone=0)
