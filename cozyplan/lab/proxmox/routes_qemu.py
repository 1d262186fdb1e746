"""``/nodes/{node}/qemu/...``: create, config, clone, template, resize, power, delete, agent."""

from __future__ import annotations

import copy
import time
from typing import Any

from cozyplan.lab.proxmox.call import Call, Route
from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import ApiError, param_error
from cozyplan.lab.proxmox.guest import network_interfaces
from cozyplan.lab.proxmox.pending import apply_pending, pending_list, split_running, with_pending
from cozyplan.lab.proxmox.perms import allowed, check, check_bridges, check_config_write
from cozyplan.lab.proxmox.sizes import format_size, is_cloudinit, parse_props, parse_size
from cozyplan.lab.proxmox.tasks import Task
from cozyplan.lab.proxmox.vmconfig import (
    apply_config,
    disk_keys,
    mac_for,
    public_config,
    summary,
)

Q = "/nodes/{node}/qemu"
V = Q + "/{vmid}"


async def list_vms(pve: Pve, call: Call) -> Any:
    pve.store.check_node(call.node)
    return [
        summary(pve.store, int(k), vm)
        for k, vm in pve.store.vms().items()
        if vm["node"] == call.node and allowed(pve.store, call.user, f"/vms/{k}", "VM.Audit")
    ]


async def create_vm(pve: Pve, call: Call) -> Any:
    store = pve.store
    store.check_node(call.node)
    raw = call.required("vmid")
    if not raw.isdigit() or int(raw) < 100:
        raise param_error(vmid="value must have a minimum value of 100")
    vmid = int(raw)
    check(store, call.user, f"/vms/{vmid}", "VM.Allocate")
    check_config_write(store, call.user, vmid, call.params)
    existing = store.find_vm(vmid)
    if existing is not None:
        raise ApiError(
            500,
            f"unable to create VM {vmid} - VM {vmid} already exists on node '{existing['node']}'",
        )
    params = {k: v for k, v in call.params.items() if k not in ("vmid", "start")}
    vm = store.add_vm(call.node, vmid, {"lock": "create"})
    store.save()

    async def worker(task: Task) -> None:
        try:
            async with pve.vm_lock(vmid):
                await pve.work("create")
                vm["config"].pop("lock", None)
                apply_config(store, vmid, vm, params)
                vm["config"].setdefault("vmgenid", mac_for(vmid, 99))
        except Exception:
            store.remove_vm(vmid)
            store.save()
            raise
        store.save()
        task.log(f"VM {vmid} created")

    return pve.tasks.spawn(call.node, "qmcreate", str(vmid), call.owner, worker)


async def get_config(pve: Pve, call: Call) -> Any:
    """Pending values by default, like qemu-server; ``current=1`` gives the running ones."""
    check(pve.store, call.user, f"/vms/{call.vmid}", "VM.Audit")
    vm = pve.store.vm(call.node, call.vmid)
    return public_config(vm["config"] if call.flag("current") else with_pending(vm))


async def get_pending(pve: Pve, call: Call) -> Any:
    check(pve.store, call.user, f"/vms/{call.vmid}", "VM.Audit")
    vm = pve.store.vm(call.node, call.vmid)
    return pending_list(vm)


def _check_locked(vmid: int, vm: dict[str, Any]) -> None:
    lock = vm["config"].get("lock")
    if lock:
        raise ApiError(500, f"VM {vmid} is locked ({lock})")


async def _set_config(pve: Pve, call: Call) -> None:
    vmid = call.vmid
    pve.store.vm(call.node, vmid)
    check_config_write(pve.store, call.user, vmid, call.params)
    async with pve.vm_lock(vmid):
        vm = pve.store.vm(call.node, vmid)
        _check_locked(vmid, vm)
        trial = copy.deepcopy(vm)
        if vm["status"] == "running":
            # the write lands on top of the pending values; only hot keys take effect now
            trial["config"] = with_pending(vm)
            apply_config(pve.store, vmid, trial, call.params)
            after = trial["config"]
            trial["config"] = copy.deepcopy(vm["config"])
            trial.pop("pending", None)
            trial.pop("pending_delete", None)
            split_running(trial, vm["config"], after)
        else:
            apply_pending(trial)
            apply_config(pve.store, vmid, trial, call.params)
        vm.clear()
        vm.update(trial)
        pve.store.save()


async def put_config(pve: Pve, call: Call) -> Any:
    await _set_config(pve, call)
    return None


async def post_config(pve: Pve, call: Call) -> Any:
    pve.store.vm(call.node, call.vmid)

    async def worker(task: Task) -> None:
        await pve.work("config")
        await _set_config(pve, call)
        task.log("update VM config")

    return pve.tasks.spawn(call.node, "qmconfig", str(call.vmid), call.owner, worker)


async def clone_vm(pve: Pve, call: Call) -> Any:
    store = pve.store
    vmid = call.vmid
    src = store.vm(call.node, vmid)
    raw = call.required("newid")
    if not raw.isdigit() or int(raw) < 100:
        raise param_error(newid="value must have a minimum value of 100")
    newid = int(raw)
    check(store, call.user, f"/vms/{vmid}", "VM.Clone")
    check(store, call.user, f"/vms/{newid}", "VM.Allocate")
    for key in disk_keys(src["config"]):
        volid, props = parse_props(str(src["config"][key]), "file")
        if props.get("media") != "cdrom" and ":" in volid:
            target_storage = call.params.get("storage") or volid.split(":")[0]
            check(store, call.user, f"/storage/{target_storage}", "Datastore.AllocateSpace")
    check_bridges(store, call.user, src["config"])
    if store.find_vm(newid) is not None:
        raise ApiError(500, f"unable to create VM {newid}: config file already exists")
    is_template = bool(src["config"].get("template"))
    full = call.flag("full", default=not is_template)
    storage = call.params.get("storage")
    if storage and not full:
        raise ApiError(500, "parameter 'storage' not allowed for linked clones")
    if not full and not is_template:
        raise ApiError(500, "Linked clone feature is not supported for drive 'scsi0'")
    if storage:
        store.storage(call.node, storage)
    target = call.params.get("target", call.node)
    if target != call.node:
        raise ApiError(500, "Can't clone to other node with local storage")
    name = call.params.get("name", f"Copy-of-VM-{src['config'].get('name', vmid)}")
    newvm = store.add_vm(call.node, newid, {"name": name, "lock": "clone"})
    store.save()

    async def worker(task: Task) -> None:
        try:
            running = src["status"] == "running"
            async with pve.vm_lock(vmid, shared=not running), pve.vm_lock(newid):
                task.log(f"create {'full' if full else 'linked'} clone of drive(s)")
                await pve.work("clone" if full else "linked_clone")
                config = {
                    k: v
                    for k, v in copy.deepcopy(src["config"]).items()
                    if k not in ("template", "lock", "vmgenid")
                }
                for key in disk_keys(config):
                    config[key] = _clone_disk(pve, task, newid, str(config[key]), full, storage)
                for key in [k for k in config if k.startswith("net")]:
                    head, _, rest = str(config[key]).partition(",")  # MODEL=MAC,bridge=...
                    model = head.partition("=")[0]
                    new_head = f"{model}={mac_for(newid, int(key[3:]))}"
                    config[key] = f"{new_head},{rest}" if rest else new_head
                config["name"] = name
                config["vmgenid"] = mac_for(newid, 99)
                newvm["config"] = config
                newvm["image"] = src.get("image", "")
        except Exception:
            for volid in [v for v, info in store.volumes().items() if info.get("vmid") == newid]:
                store.volumes().pop(volid, None)
            store.remove_vm(newid)
            store.save()
            raise
        store.save()

    return pve.tasks.spawn(call.node, "qmclone", str(vmid), call.owner, worker)


def _clone_disk(
    pve: Pve, task: Task, newid: int, value: str, full: bool, storage: str | None
) -> str:
    volid, props = parse_props(value, "file")
    if is_cloudinit(value):  # qemu-server allocates a fresh cloud-init disk for the clone
        new = pve.store.alloc_cloudinit(storage or volid.split(":")[0], newid)
        task.log(f"drive: '{volid}' -> '{new}'")
        return ",".join([new, *(f"{k}={v}" for k, v in props.items())])
    if volid in ("none", "cdrom") or props.get("media") == "cdrom":
        return value
    vol = pve.store.volumes()[volid]
    src_storage = volid.split(":")[0]
    if full:
        new = pve.store.alloc_disk(storage or src_storage, newid, int(vol["size"]))
    else:
        base = volid.split(":", 1)[1]
        n = len([v for v in pve.store.volumes() if v.startswith(f"{src_storage}:{base}/")])
        new = f"{src_storage}:{base}/vm-{newid}-disk-{n}"
        pve.store.volumes()[new] = {
            "size": vol["size"],
            "format": "raw",
            "content": "images",
            "vmid": newid,
            "base": volid,
            "ctime": int(time.time()),
        }
    task.log(f"drive: '{volid}' -> '{new}'")
    return ",".join([new, *(f"{k}={v}" for k, v in props.items())])


async def template_vm(pve: Pve, call: Call) -> Any:
    vmid = call.vmid
    check(pve.store, call.user, f"/vms/{vmid}", "VM.Allocate")
    vm = pve.store.vm(call.node, vmid)

    async def worker(task: Task) -> None:
        async with pve.vm_lock(vmid):
            _check_locked(vmid, vm)
            if vm["status"] == "running":
                raise ApiError(500, "you can't convert a VM to template if VM is running")
            if vm["config"].get("template"):
                raise ApiError(500, "you can't convert a template to a template")
            await pve.work("template")
            for key in disk_keys(vm["config"]):
                volid, props = parse_props(str(vm["config"][key]), "file")
                if volid not in pve.store.volumes() or ":vm-" not in volid or is_cloudinit(volid):
                    continue
                info = pve.store.volumes().pop(volid)
                new = volid.replace(":vm-", ":base-", 1)
                pve.store.volumes()[new] = info
                vm["config"][key] = ",".join([new, *(f"{k}={v}" for k, v in props.items())])
            vm["config"]["template"] = 1
            pve.store.save()

    return pve.tasks.spawn(call.node, "qmtemplate", str(vmid), call.owner, worker)


async def resize_vm(pve: Pve, call: Call) -> Any:
    vmid = call.vmid
    check(pve.store, call.user, f"/vms/{vmid}", "VM.Config.Disk")
    vm = pve.store.vm(call.node, vmid)
    disk = call.required("disk")
    size_text = call.required("size")
    if disk not in vm["config"]:
        raise ApiError(500, f"disk '{disk}' does not exist")
    try:
        delta = parse_size(size_text)
    except ValueError:
        raise param_error(size=f"value '{size_text}' does not match the regex pattern") from None

    async def worker(task: Task) -> None:
        async with pve.vm_lock(vmid):
            _check_locked(vmid, vm)
            volid, props = parse_props(str(vm["config"][disk]), "file")
            vol = pve.store.volumes()[volid]
            old = int(vol["size"])
            new = old + delta if size_text.startswith("+") else delta
            if new < old:
                raise ApiError(500, "shrinking disks is not supported")
            await pve.work("resize")
            vol["size"] = new
            props["size"] = format_size(new)
            vm["config"][disk] = ",".join([volid, *(f"{k}={v}" for k, v in props.items())])
            pve.store.save()
            task.log(f"resize {disk} from {format_size(old)} to {format_size(new)}")

    return pve.tasks.spawn(call.node, "resize", str(vmid), call.owner, worker)


async def status_current(pve: Pve, call: Call) -> Any:
    check(pve.store, call.user, f"/vms/{call.vmid}", "VM.Audit")
    vm = pve.store.vm(call.node, call.vmid)
    entry = summary(pve.store, call.vmid, vm)
    config = vm["config"]
    return {
        **entry,
        "qmpstatus": vm["status"],
        "cpus": entry["maxcpu"],
        "agent": 1 if str(config.get("agent", "0")).split(",")[0] in ("1", "enabled=1") else 0,
    }


async def _start(pve: Pve, node: str, vmid: int, vm: dict[str, Any]) -> None:
    if vm["config"].get("template"):
        raise ApiError(500, "you can't start a vm if it's a template")
    if vm["status"] == "running":
        raise ApiError(500, f"VM {vmid} already running")
    await pve.work("start")
    apply_pending(vm)  # vm_start applies what was pending
    vm["status"] = "running"
    vm["started_at"] = time.time()
    pve.store.save()
    await pve.publish("vm.started", node, vmid, vm)


async def halt(pve: Pve, op: str, node: str, vmid: int, vm: dict[str, Any]) -> None:
    await pve.work(op)
    vm["status"] = "stopped"
    vm["started_at"] = None
    pve.store.save()
    await pve.publish("vm.stopped", node, vmid, vm)


def _power(op: str) -> Any:
    async def handler(pve: Pve, call: Call) -> Any:
        vmid = call.vmid
        check(pve.store, call.user, f"/vms/{vmid}", "VM.PowerMgmt")
        vm = pve.store.vm(call.node, vmid)

        async def worker(task: Task) -> None:
            async with pve.vm_lock(vmid):
                _check_locked(vmid, vm)
                if op == "start":
                    await _start(pve, call.node, vmid, vm)
                    return
                if vm["status"] != "running":
                    if op in ("shutdown", "reboot"):
                        raise ApiError(500, f"VM {vmid} not running")
                    return
                if op == "reboot":  # qm reboot: a clean shutdown, then a start
                    await halt(pve, "shutdown", call.node, vmid, vm)
                    await _start(pve, call.node, vmid, vm)
                    return
                await halt(pve, op, call.node, vmid, vm)

        return pve.tasks.spawn(call.node, f"qm{op}", str(vmid), call.owner, worker)

    return handler


async def delete_vm(pve: Pve, call: Call) -> Any:
    vmid = call.vmid
    store = pve.store
    check(store, call.user, f"/vms/{vmid}", "VM.Allocate")
    vm = store.vm(call.node, vmid)

    async def worker(task: Task) -> None:
        async with pve.vm_lock(vmid):
            _check_locked(vmid, vm)
            if vm["status"] == "running":
                raise ApiError(500, f"VM {vmid} is running - destroy failed")
            for info in store.volumes().values():
                base = info.get("base")
                if base and base.split(":")[1].startswith(f"base-{vmid}-"):
                    raise ApiError(500, f"base volume '{base}' is still in use by linked cloned")
            await pve.work("destroy")
            for volid in [
                v
                for v, info in store.volumes().items()
                if info.get("vmid") == vmid and info["content"] == "images"
            ]:
                store.volumes().pop(volid)
                task.log(f"Removing image: 100% complete...done. ({volid})")
            store.remove_vm(vmid)
            store.save()
            await pve.publish("vm.deleted", call.node, vmid, vm)

    return pve.tasks.spawn(call.node, "qmdestroy", str(vmid), call.owner, worker)


async def agent_interfaces(pve: Pve, call: Call) -> Any:
    check(pve.store, call.user, f"/vms/{call.vmid}", "VM.GuestAgent.Audit")
    vm = pve.store.vm(call.node, call.vmid)
    return network_interfaces(
        call.vmid, vm, pve.store.uptime(vm), pve.faults.simulated("agent_boot")
    )


ROUTES: list[Route] = [
    ("GET", Q, list_vms),
    ("POST", Q, create_vm),
    ("GET", V + "/config", get_config),
    ("GET", V + "/pending", get_pending),
    ("PUT", V + "/config", put_config),
    ("POST", V + "/config", post_config),
    ("POST", V + "/clone", clone_vm),
    ("POST", V + "/template", template_vm),
    ("PUT", V + "/resize", resize_vm),
    ("GET", V + "/status/current", status_current),
    ("POST", V + "/status/start", _power("start")),
    ("POST", V + "/status/shutdown", _power("shutdown")),
    ("POST", V + "/status/stop", _power("stop")),
    ("POST", V + "/status/reboot", _power("reboot")),
    ("DELETE", V, delete_vm),
    ("GET", V + "/agent/network-get-interfaces", agent_interfaces),
]
