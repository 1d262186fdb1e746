"""Cluster-wide and node routes: version, nextid, resources, tasks, storage."""

from __future__ import annotations

import re
import time
from typing import Any

from cozyplan.lab.proxmox.call import Call, Route
from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import ApiError, param_error
from cozyplan.lab.proxmox.perms import allowed, check, check_any
from cozyplan.lab.proxmox.tasks import Task
from cozyplan.lab.proxmox.vmconfig import summary

_CONTENT_DIRS = {"iso": "iso", "vztmpl": "vztmpl", "import": "import"}
# pve-storage: SAFE_CHAR_CLASS_RE + UPLOAD_IMPORT_EXT_RE_1, ISO_EXT_RE_0, VZTMPL_EXT_RE_1
_FILENAME_RE = {
    "import": re.compile(r"[a-zA-Z0-9\-\.\+\=\_]+\.(ova|qcow2|raw|vmdk)$"),
    "iso": re.compile(r"[^/]+\.(?:iso|img)$", re.IGNORECASE),
    "vztmpl": re.compile(r"[^/]+\.tar\.(gz|xz|zst|bz2)$"),
}
_FILENAME_ERROR = {
    "import": "invalid filename or wrong extension",
    "iso": "wrong file extension",
    "vztmpl": "wrong file extension",
}
_COMPRESSIONS = ("zst", "gz", "lzo", "bz2")
_ALGOS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


async def version(pve: Pve, call: Call) -> Any:
    return {"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"}


async def nodes(pve: Pve, call: Call) -> Any:
    return [
        {
            "node": n,
            "status": "online",
            "type": "node",
            "maxcpu": 16,
            "maxmem": 64 * 1024**3,
            "uptime": 86400,
        }
        for n in pve.store.data["nodes"]
    ]


async def nextid(pve: Pve, call: Call) -> Any:
    used = {int(k) for k in pve.store.vms()}
    wanted = call.params.get("vmid")
    if wanted:
        if not wanted.isdigit():
            raise param_error(vmid=f"type check ('integer') failed - got '{wanted}'")
        if int(wanted) in used:
            raise param_error(vmid=f"VM {wanted} already exists")
        return wanted
    n = 100
    while n in used:
        n += 1
    return str(n)  # PVE answers a string here


async def resources(pve: Pve, call: Call) -> Any:
    kind = call.params.get("type")
    out: list[dict[str, Any]] = []
    if kind in (None, "vm"):  # only what the caller may see, like PVE
        out += [
            summary(pve.store, int(k), vm)
            for k, vm in pve.store.vms().items()
            if allowed(pve.store, call.user, f"/vms/{k}", "VM.Audit")
        ]
    if kind in (None, "storage"):
        for node in pve.store.data["nodes"]:
            for name, info in pve.store.data["storages"].items():
                out.append(
                    {
                        "id": f"storage/{node}/{name}",
                        "type": "storage",
                        "node": node,
                        "storage": name,
                        "status": "available",
                        "content": ",".join(info["content"]),
                        "shared": info["shared"],
                    }
                )
    if kind in (None, "node"):
        out += [
            {"id": f"node/{n}", "type": "node", "node": n, "status": "online"}
            for n in pve.store.data["nodes"]
        ]
    return out


async def task_status(pve: Pve, call: Call) -> Any:
    return pve.tasks.get(call.node, call.path["upid"]).status_dict()


async def task_log(pve: Pve, call: Call) -> Any:
    task = pve.tasks.get(call.node, call.path["upid"])
    start = int(call.params.get("start", "0") or 0)
    limit = int(call.params.get("limit", "50") or 50)
    return [
        {"n": i + 1, "t": line}
        for i, line in enumerate(task.lines[start : start + limit], start=start)
    ]


async def storage_list(pve: Pve, call: Call) -> Any:
    pve.store.check_node(call.node)
    return [
        {
            "storage": name,
            "type": info["type"],
            "content": ",".join(info["content"]),
            "shared": info["shared"],
            "active": 1,
            "enabled": 1,
            "total": 500 * 1024**3,
            "used": 0,
            "avail": 500 * 1024**3,
        }
        for name, info in pve.store.data["storages"].items()
    ]


async def storage_content(pve: Pve, call: Call) -> Any:
    storage = call.path["storage"]
    pve.store.storage(call.node, storage)
    check_any(
        pve.store, call.user, f"/storage/{storage}", "Datastore.Audit", "Datastore.AllocateSpace"
    )
    content = call.params.get("content")
    out = []
    for volid, info in pve.store.volumes().items():
        if volid.split(":")[0] != storage or (content and info["content"] != content):
            continue
        entry = {
            "volid": volid,
            "content": info["content"],
            "format": info["format"],
            "size": info["size"],
            "ctime": info["ctime"],
        }
        if "vmid" in info:
            entry["vmid"] = info["vmid"]
        out.append(entry)
    return out


def _volid(storage: str, volume: str) -> str:
    return volume if ":" in volume else f"{storage}:{volume}"


async def delete_content(pve: Pve, call: Call) -> Any:
    storage = call.path["storage"]
    pve.store.storage(call.node, storage)
    check(pve.store, call.user, f"/storage/{storage}", "Datastore.Allocate")
    volid = _volid(storage, call.path["volume"])
    if volid not in pve.store.volumes():
        raise ApiError(500, f"volume '{volid}' does not exist")

    async def worker(task: Task) -> None:
        pve.store.volumes().pop(volid, None)
        pve.store.save()
        task.log(f"removed volume '{volid}'")

    return pve.tasks.spawn(call.node, "imgdel", volid, call.owner, worker)


_ALLOC_SIZE_RE = re.compile(r"^(\d+)([MG]?)$")
_VM_NAME_RE = re.compile(r"^(?:vm|base)-(\d+)-[^/\s]+$")


async def alloc_content(pve: Pve, call: Call) -> Any:
    """pve-storage ``API2/Storage/Content.pm`` ``create``: allocate an image volume (what
    proxmox-csi does for a volume, owned by its placeholder VM 9999). Size in KiB, ``M``/``G``."""
    storage = call.path["storage"]
    info = pve.store.storage(call.node, storage)
    check(pve.store, call.user, f"/storage/{storage}", "Datastore.AllocateSpace")
    name = call.params.get("filename") or ""
    size_text = call.params.get("size") or ""
    vmid_text = call.params.get("vmid") or ""
    if not vmid_text.isdigit():
        raise param_error(vmid=f"type check ('integer') failed - got '{vmid_text}'")
    match = _ALLOC_SIZE_RE.match(size_text)
    if match is None:
        raise param_error(size=f"unable to parse size '{size_text}'")
    kib = int(match.group(1)) * {"": 1, "M": 1024, "G": 1024 * 1024}[match.group(2)]
    owner = _VM_NAME_RE.match(name.rsplit(".", 1)[0] if info.get("path") else name)
    if owner is None:
        raise param_error(filename=f"illegal name '{name}' - should be 'vm-{vmid_text}-*'")
    if int(owner.group(1)) != int(vmid_text):
        raise param_error(filename=f"wrong vmid - should be {vmid_text}")
    volid = pve.store.alloc_disk(storage, int(vmid_text), kib * 1024, name=name)
    pve.store.save()
    return volid


def _check_download_perms(pve: Pve, call: Call, storage: str) -> None:
    """``Datastore.AllocateTemplate`` on the storage, and ``Sys.Audit`` + ``Sys.Modify`` on /
    or ``Sys.AccessNetwork`` on the node (it probes the host's network)."""
    check(pve.store, call.user, f"/storage/{storage}", "Datastore.AllocateTemplate")
    if not allowed(pve.store, call.user, "/", "Sys.Audit", "Sys.Modify"):
        check(pve.store, call.user, f"/nodes/{call.node}", "Sys.AccessNetwork")


async def download_url(pve: Pve, call: Call) -> Any:
    """pve-storage ``API2/Storage/Status.pm`` ``download_url``."""
    storage = call.path["storage"]
    url = call.required("url")
    content = call.required("content")
    filename = call.required("filename")
    errors: dict[str, str] = {}
    if not re.match(r"https?://", url):
        errors["url"] = "value does not match the regex pattern"
    if content not in _CONTENT_DIRS:
        errors["content"] = (
            f"value '{content}' does not have a value in the enumeration 'iso, vztmpl, import'"
        )
    compression = call.params.get("compression")
    if compression and compression not in _COMPRESSIONS:
        errors["compression"] = (
            f"value '{compression}' does not have a value in the enumeration 'gz, lzo, zst, bz2'"
        )
    algo = call.params.get("checksum-algorithm")
    if algo and algo not in _ALGOS:
        errors["checksum-algorithm"] = (
            f"value '{algo}' does not have a value in the enumeration '{', '.join(_ALGOS)}'"
        )
    if call.params.get("checksum") and not algo:
        errors["checksum"] = "parameter 'checksum-algorithm' is required"
    if algo and not call.params.get("checksum"):
        errors["checksum-algorithm"] = "parameter 'checksum' is required"
    if len(filename) > 255:
        errors["filename"] = "value may only be 255 characters long"
    if errors:
        raise param_error(**errors)
    _check_download_perms(pve, call, storage)
    info = pve.store.storage(call.node, storage)
    if not info.get("path"):
        raise ApiError(
            500, f"can't upload to storage type '{info['type']}', not a file based storage!"
        )
    if content not in info["content"]:
        raise ApiError(500, f"storage '{storage}' is not configured for content-type '{content}'")
    filename = re.sub(r"[^a-zA-Z0-9_.-]", "_", filename)  # normalize_content_filename
    if not _FILENAME_RE[content].search(filename):
        raise param_error(filename=_FILENAME_ERROR[content])
    volid = f"{storage}:{_CONTENT_DIRS[content]}/{filename}"
    size = int(
        pve.faults.option("download_size", 1024**3 if content == "import" else 100 * 1024**2)
    )

    async def worker(task: Task) -> None:
        if compression and content != "iso":
            raise ApiError(500, f"decompression not supported for {content}")
        path = f"{info.get('path', '/var/lib/vz')}/{_CONTENT_DIRS[content]}/{filename}"
        if volid in pve.store.volumes():
            raise ApiError(500, f"refusing to override existing file '{path}'")
        task.log(f"downloading {url} to {path}")
        await pve.work("download")
        if call.params.get("checksum"):
            task.log(f"calculating checksum of '{path}'... OK, checksum verified")
        pve.store.volumes()[volid] = {
            "size": size,
            "format": filename.rsplit(".", 1)[-1],
            "content": content,
            "ctime": int(time.time()),
            "url": url,
        }
        pve.store.save()
        task.log(f"download of '{url}' to '{path}' finished")

    return pve.tasks.spawn(call.node, "download", filename, call.owner, worker)


ROUTES: list[Route] = [
    ("GET", "/version", version),
    ("GET", "/nodes", nodes),
    ("GET", "/cluster/nextid", nextid),
    ("GET", "/cluster/resources", resources),
    ("GET", "/nodes/{node}/tasks/{upid}/status", task_status),
    ("GET", "/nodes/{node}/tasks/{upid}/log", task_log),
    ("GET", "/nodes/{node}/storage", storage_list),
    ("GET", "/nodes/{node}/storage/{storage}/content", storage_content),
    ("POST", "/nodes/{node}/storage/{storage}/content", alloc_content),
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume:.+}", delete_content),
    ("POST", "/nodes/{node}/storage/{storage}/download-url", download_url),
]
