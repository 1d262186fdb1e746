"""The lab Proxmox refuses what a real Proxmox VE refuses, in its words (issue 11).

Each test drives the simulator with proxmoxer, as any client would, and fails against the
lenient simulator it replaces.
"""

from __future__ import annotations

from typing import Any

import pytest
from proxmoxer.core import ResourceException
from test_proxmox_simulator import api, wait

from cozyplan.lab.runtime import InProcessLab


def _image(pve: Any) -> None:
    wait(
        pve,
        pve.nodes("pve")
        .storage("local")("download-url")
        .post(
            url="https://factory.talos.dev/image/x/v1.10.6/nocloud-amd64.qcow2",
            content="import",
            filename="talos-v1.10.6.qcow2",
        ),
    )


def _template(pve: Any, vmid: int = 9000, **more: Any) -> None:
    _image(pve)
    wait(
        pve,
        pve.nodes("pve").qemu.post(
            vmid=vmid,
            name="tpl",
            scsi0="local-lvm:0,import-from=local:import/talos-v1.10.6.qcow2",
            net0="virtio,bridge=vmbr0",
            **more,
        ),
    )
    wait(pve, pve.nodes("pve").qemu(vmid).template.post())


def _started(lab: InProcessLab) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    lab.runtime.world.subscribe("vm.started", lambda event, payload: seen.append(payload))
    return seen


def test_started_event_says_cpu_and_cloudinit(lab: InProcessLab) -> None:
    """The contract with the lab Talos: the effective CPU type and the cloud-init drive."""
    started = _started(lab)
    pve = api(lab)
    _template(pve)
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=101, name="plain", full=1))
    pve.nodes("pve").qemu(101).config.put(ipconfig0="ip=10.0.0.201/24,gw=10.0.0.1")
    wait(pve, pve.nodes("pve").qemu(101).status.start.post())
    # ipconfig0 without a cloud-init drive never reaches the guest: no address at all
    assert started[-1]["cpu"] == "kvm64" and started[-1]["cloudinit"] is False
    assert started[-1]["ipv4"] == []

    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=102, name="ci", full=1))
    pve.nodes("pve").qemu(102).config.put(
        cpu="host", ide2="local-lvm:cloudinit", ipconfig0="ip=10.0.0.202/24,gw=10.0.0.1"
    )
    config = pve.nodes("pve").qemu(102).config.get()
    assert config["ide2"] == "local-lvm:vm-102-cloudinit,media=cdrom"
    wait(pve, pve.nodes("pve").qemu(102).status.start.post())
    assert started[-1]["cpu"] == "host" and started[-1]["cloudinit"] is True
    assert started[-1]["ipv4"] == ["10.0.0.202"]


def test_one_cloudinit_drive_per_vm_and_clones_get_their_own(lab: InProcessLab) -> None:
    pve = api(lab)
    _template(pve, ide2="local-lvm:cloudinit", cpu="cputype=host,flags=+aes")
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").qemu(9000).config.put(ide0="local-lvm:cloudinit")
    assert "ide0 - cloud-init drive is already attached at 'ide2'" in str(exc.value)
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=103, name="c", full=1))
    assert pve.nodes("pve").qemu(103).config.get()["ide2"].startswith("local-lvm:vm-103-cloudinit,")
    started = _started(lab)
    wait(pve, pve.nodes("pve").qemu(103).status.start.post())
    assert started[-1]["cpu"] == "host" and started[-1]["cloudinit"] is True


def test_download_decompresses_only_iso(lab: InProcessLab) -> None:
    """pve-storage ``download_url``: decompression is refused in the worker for non-iso."""
    pve = api(lab)
    storage = pve.nodes("pve").storage("local")("download-url")
    failed = wait(
        pve,
        storage.post(
            url="https://x/nocloud-amd64.raw.zst",
            content="import",
            filename="talos.raw",
            compression="zst",
        ),
    )
    assert failed["exitstatus"] == "decompression not supported for import"
    assert pve.nodes("pve").storage("local").content.get(content="import") == []
    with pytest.raises(ResourceException) as exc:
        storage.post(url="https://x/talos.raw.xz", content="import", filename="talos.raw.xz")
    assert exc.value.status_code == 400
    assert exc.value.errors == {"filename": "invalid filename or wrong extension"}
    ok = wait(
        pve,
        storage.post(
            url="https://x/tools.iso.gz", content="iso", filename="tools.iso", compression="gz"
        ),
    )
    assert ok["exitstatus"] == "OK"


def test_running_vm_defers_memory_to_pending_until_reboot(lab: InProcessLab) -> None:
    """qemu-server: memory/cores/cpu wait in [PENDING] on a running VM; GET config shows the
    pending values unless current=1; tags and NICs are applied at once; a reboot applies."""
    pve = api(lab)
    _template(pve)
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=104, name="run", full=1))
    vm = pve.nodes("pve").qemu(104)
    vm.config.put(memory=2048)  # stopped: applied at once
    wait(pve, vm.status.start.post())
    vm.config.put(memory=8192, cores=4, tags="cozy")
    assert vm.config.get()["memory"] == 8192
    current = vm.config.get(current=1)
    assert current["memory"] == 2048 and current["tags"] == "cozy" and "cores" not in current
    pending = {e["key"]: e for e in vm.pending.get()}
    assert pending["memory"] == {"key": "memory", "value": 2048, "pending": 8192}
    assert pending["cores"] == {"key": "cores", "pending": 4}
    assert "pending" not in pending["tags"]
    (entry,) = [r for r in pve.cluster.resources.get(type="vm") if r["vmid"] == 104]
    assert entry["maxmem"] == 2048 * 1024**2  # the VM still runs with the old memory
    wait(pve, vm.status.reboot.post())
    assert vm.config.get(current=1)["memory"] == 8192
    assert all("pending" not in e for e in vm.pending.get())
    # a pending value set back to the running one is dropped (cleanup_pending)
    vm.config.put(memory=4096)
    vm.config.put(memory=8192)
    assert all("pending" not in e for e in vm.pending.get())


def test_template_of_a_template_is_refused(lab: InProcessLab) -> None:
    pve = api(lab)
    _template(pve)
    failed = wait(pve, pve.nodes("pve").qemu(9000).template.post())
    assert failed["exitstatus"] == "you can't convert a template to a template"


def _user_token(pve: Any, privsep: int = 1) -> str:
    pve.access.users.post(userid="capmox@pve")
    reply = pve.access.users("capmox@pve").token("capi").post(privsep=privsep)
    return str(reply["value"])


def _as_token(lab: InProcessLab, secret: str) -> Any:
    from proxmoxer import ProxmoxAPI

    host, port = lab.resolve("proxmox", "10.0.0.1", 8006)
    return ProxmoxAPI(
        host,
        port=port,
        user="capmox@pve",
        token_name="capi",
        token_value=secret,
        verify_ssl=lab.provider_settings()["proxmox"]["ca_file"],
    )


def test_privsep_token_rights_are_the_intersection(lab: InProcessLab) -> None:
    """pve-access-control: a privsep token has user ACL ∩ token ACL; clones also need
    Datastore.AllocateSpace on the storage and SDN.Use on the bridge (check_bridge_access)."""
    pve = api(lab)
    _template(pve)
    capmox = _as_token(lab, _user_token(pve))

    def clone() -> Any:
        return capmox.nodes("pve").qemu(9000).clone.post(newid=120, name="c", full=1)

    pve.access.acl.put(path="/", roles="PVEVMAdmin", tokens="capmox@pve!capi")
    with pytest.raises(ResourceException) as exc:
        clone()  # the token's own ACL alone gives nothing
    assert exc.value.status_code == 403
    assert exc.value.content == "Permission check failed (/vms/9000, VM.Clone)"
    assert capmox.cluster.resources.get(type="vm") == []  # sees nothing either

    pve.access.acl.put(path="/", roles="PVEVMAdmin", users="capmox@pve")
    with pytest.raises(ResourceException) as exc:
        clone()
    assert (
        exc.value.content == "Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)"
    )
    pve.access.acl.put(
        path="/storage", roles="PVEDatastoreUser", users="capmox@pve", tokens="capmox@pve!capi"
    )
    with pytest.raises(ResourceException) as exc:
        clone()
    assert exc.value.content == ("Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)")
    pve.access.acl.put(
        path="/sdn/zones/localnetwork",
        roles="PVESDNUser",
        users="capmox@pve",
        tokens="capmox@pve!capi",
    )
    assert wait(pve, clone())["exitstatus"] == "OK"
    # downloading needs Datastore.AllocateTemplate (PVEDatastoreUser has not)
    with pytest.raises(ResourceException) as exc:
        capmox.nodes("pve").storage("local")("download-url").post(
            url="https://x/a.iso", content="iso", filename="a.iso"
        )
    assert exc.value.content == (
        "Permission check failed (/storage/local, Datastore.AllocateTemplate)"
    )


def test_token_without_privsep_has_its_users_rights(lab: InProcessLab) -> None:
    pve = api(lab)
    capmox = _as_token(lab, _user_token(pve, privsep=0))
    with pytest.raises(ResourceException, match="Permission check failed"):
        capmox.nodes("pve").qemu(9000).config.get()
    pve.access.acl.put(path="/vms", roles="PVEAuditor", users="capmox@pve")
    with pytest.raises(ResourceException, match="does not exist"):
        capmox.nodes("pve").qemu(9000).config.get()  # allowed now: the VM is just absent
