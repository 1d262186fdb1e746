"""``proxmox_vm_template``: a VM built from an imported image, then converted to a template.

Every hardware field requires replacement: a template is immutable once linked clones exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cozyplan.provider import ApplyContext, PermanentError, PlanError, Resource
from cozyplan_proxmox import ownership
from cozyplan_proxmox.cozystack import cpu_warnings
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.models import TemplateModel
from cozyplan_proxmox.normalize import config_int, truthy
from cozyplan_proxmox.ownership import foreign, mark, with_mark
from cozyplan_proxmox.provider import ProxmoxProvider
from cozyplan_proxmox.qemu import (
    destroy,
    disks_from_config,
    extra_from_config,
    get_config,
    grow_disks,
    net_param,
    nets_from_config,
    new_disk_param,
    vm_path,
    wait_unlocked,
)


def observed(current: TemplateModel, config: dict[str, Any]) -> TemplateModel:
    return current.model_copy(
        update={
            "name": str(config.get("name", "")),
            "cores": config_int(config.get("cores")) or 1,
            "sockets": config_int(config.get("sockets")) or 1,
            "memory": config_int(config.get("memory")) or 512,
            "cpu": config.get("cpu") if current.cpu is not None else None,
            "scsihw": str(config.get("scsihw", "lsi")),
            "agent": truthy(config.get("agent", "0")),
            "ostype": config.get("ostype") if current.ostype is not None else None,
            "disks": disks_from_config(config, current.disks),
            "net": nets_from_config(config, current.net),
            "extra": extra_from_config(config, current.extra),
        }
    )


class TemplateResource(Resource[ProxmoxProvider, TemplateModel]):
    type_name: ClassVar[str] = "proxmox_vm_template"
    model: ClassVar[type[TemplateModel]] = TemplateModel
    description: ClassVar[str] = "A VM template (boot disk imported from a proxmox_image)."

    async def read(self, current: TemplateModel) -> TemplateModel | None:
        entry = await self.provider.inventory.get(current.vmid)
        if entry is None or not entry.get("template"):
            return None  # absent, or a create that never reached the conversion
        config = await get_config(self.provider.client, current.node, current.vmid)
        if config is None:
            return None
        return observed(current, config)

    async def create(self, planned: TemplateModel, ctx: ApplyContext) -> TemplateModel:
        return await self.provider.retrying(lambda: self._create(planned, ctx))

    async def _create(self, m: TemplateModel, ctx: ApplyContext) -> TemplateModel:
        client = self.provider.client
        path = vm_path(m.node, m.vmid)
        config = await wait_unlocked(client, m.node, m.vmid, f"template {m.vmid}")
        if config is not None and config.get("name") != m.name:
            raise PermanentError(
                f"vmid {m.vmid} is already used by VM {config.get('name')!r}; cozyplan does "
                f"not overwrite it: choose another vmid for template {m.name!r}"
            )
        lineage = self.provider.ctx.lineage
        owner = foreign(lineage, (config or {}).get("description"))
        if config is not None and owner is not None:
            what = f"template {m.vmid} ({m.name})"
            if ctx.takeover is None:
                raise ownership.refuse_at_apply(what, owner, ctx.address)
            if ctx.takeover == "replace":
                ctx.progress(f"{what} belongs to {owner}: deleting it (--replace)")
                await destroy(client, m.node, m.vmid)
                return await self._create(m, ctx)
            await client.call(
                "PUT",
                path + "/config",
                description=with_mark(str(config.get("description") or ""), lineage),
            )
        if config is None:
            ctx.progress(f"creating VM {m.vmid} ({m.name})")
            params: dict[str, Any] = {
                "vmid": m.vmid,
                "name": m.name,
                "cores": m.cores,
                "sockets": m.sockets,
                "memory": m.memory,
                "cpu": m.cpu,
                "scsihw": m.scsihw,
                "agent": 1 if m.agent else 0,
                "ostype": m.ostype,
                "description": mark(lineage) if lineage else None,
                **m.extra,
            }
            for disk in m.disks:
                params[disk.slot] = new_disk_param(disk)
            for net in m.net:
                params[net.slot] = net_param(net)
            if m.disks:
                params["boot"] = f"order={m.disks[0].slot}"
            try:
                await client.run_task(
                    "POST", f"nodes/{m.node}/qemu", m.node, f"create VM {m.vmid}", **params
                )
            except ApiPermanentError as exc:
                if "already exists" not in exc.pve_message:
                    raise
                return await self._create(m, ctx)  # raced with ourselves: adopt
            config = await get_config(client, m.node, m.vmid) or {}
        else:
            ctx.progress(f"VM {m.vmid} ({m.name}) already exists: adopting")
        if not config.get("template"):
            await grow_disks(self.provider.client, m.node, m.vmid, m.disks, config)
            ctx.progress(f"converting VM {m.vmid} to a template")
            # never re-sent blindly: a lost answer makes the whole step re-read the VM first
            try:
                await client.run_task_once("POST", path + "/template", m.node, f"template {m.vmid}")
            except ApiPermanentError as exc:
                # the retry read the VM while the lost conversion still ran (it holds the
                # config lock, not a `lock:` property): the refusal proves it is done
                if "convert a template to a template" not in exc.pve_message:
                    raise
            config = await get_config(client, m.node, m.vmid) or {}
        return observed(m, config)

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        return cpu_warnings(planned.get("cpu")) if "cpu" in planned else []

    async def check_create(self, planned: Mapping[str, Any], takeover: str | None) -> list[str]:
        vmid = planned.get("vmid")
        if not isinstance(vmid, int) or isinstance(vmid, bool):
            return []
        entry = await self.provider.inventory.get(vmid)
        if entry is None:
            return []
        name = planned.get("name")
        if isinstance(name, str) and entry.get("name") != name:
            raise PlanError(
                f"vmid {vmid} is already used by VM {entry.get('name')!r}; cozyplan does not "
                f"overwrite it: choose another vmid for template {name!r}"
            )
        node = str(planned.get("node") or entry.get("node") or "pve")
        config = await get_config(self.provider.client, node, vmid, current=True)
        owner = foreign(self.provider.ctx.lineage, (config or {}).get("description"))
        what = f"template {vmid} ({name})"
        return ownership.check(what, owner, takeover, "deletes and re-creates")

    async def delete(self, prior: TemplateModel, ctx: ApplyContext) -> None:
        await self.provider.retrying(lambda: destroy(self.provider.client, prior.node, prior.vmid))

    async def import_resource(self, import_id: str) -> TemplateModel | None:
        node, _, vmid = import_id.rpartition("/")
        config = await get_config(self.provider.client, node or "pve", int(vmid))
        if config is None:
            return None
        return TemplateModel(node=node or "pve", vmid=int(vmid), name=str(config["name"]))
