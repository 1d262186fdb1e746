"""The provider does what a real Proxmox VE needs (issue 11): cpu, cloud-init, downloads,
pending changes and reboots, reads before retrying, token privileges, requests per VM."""

from __future__ import annotations

from typing import Any

import pytest
from pve_helpers import create, make_provider, replan, run, sim
from pve_specs import IMAGE, TEMPLATE, vm
from test_proxmox_simulator import api, wait

from cozyplan.lab.runtime import InProcessLab
from cozyplan.plan import Action
from cozyplan.provider import ApplyContext
from cozyplan_proxmox import ImageResource, TemplateResource, TokenResource, VmResource
from cozyplan_proxmox.models import ImageModel

SPEC = vm(1001, "cozy-cp1", ipconfig0="ip=10.0.0.201/24,gw=10.0.0.1")


async def _base(p: Any) -> None:
    await create(ImageResource(p), IMAGE)
    await create(TemplateResource(p), TEMPLATE)


def _vm_config(lab: InProcessLab, vmid: int) -> dict[str, Any]:
    config: dict[str, Any] = sim(lab).pve.store.vms()[str(vmid)]["config"]
    return config


def test_image_rules_are_checked_at_validate_time() -> None:
    with pytest.raises(ValueError, match="decompression not supported for import"):
        ImageModel.model_validate({**IMAGE, "compression": "zst"})
    with pytest.raises(ValueError, match="invalid filename or wrong extension"):
        ImageModel.model_validate({**IMAGE, "filename": "talos.raw.zst"})
    iso = ImageModel.model_validate(
        {"content": "iso", "url": "https://x/a.iso.gz", "filename": "a.iso", "compression": "gz"}
    )
    # the volume id is known before anything is downloaded: a re-download keeps the template
    assert iso.volid == "local:iso/a.iso"
    assert ImageModel.model_validate(IMAGE).volid == "local:import/" + IMAGE["filename"]


def test_redownload_keeps_the_template(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        images, templates = ImageResource(p), TemplateResource(p)
        image = await create(images, IMAGE)
        template = await create(templates, TEMPLATE)
        sim(lab).pve.store.volumes().pop(image["volid"])
        assert await images.read_attrs(image) is None  # gone: the image is re-created
        planned = images.dump(images.parse(IMAGE))
        assert planned["volid"] == image["volid"]  # known at plan time
        assert replan(templates, await templates.read_attrs(template), TEMPLATE) == []
        await p.close()

    run(scenario())


def test_vm_gets_host_cpu_and_a_cloudinit_drive(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        await _base(p)
        vms = VmResource(p)
        created = await create(vms, SPEC)
        config = _vm_config(lab, 1001)
        assert config["cpu"] == "host"
        assert config["ide2"] == "local-lvm:vm-1001-cloudinit,media=cdrom"
        assert created["cloudinit"] is True
        full = VmResource(make_provider(lab, full_refresh=True))
        assert replan(vms, await full.read_attrs(created), SPEC) == []
        # the drive removed out of band is drift, healed in place (no replacement)
        sim(lab).pve.store.vms()["1001"]["config"].pop("ide2")
        drift = replan(vms, await full.read_attrs(created), SPEC)
        assert [c.path_str for c in drift] == ["cloudinit"]
        assert not any(c.forces_replace for c in drift)
        await p.close()
        await full.provider.close()

    run(scenario())


def test_warns_on_kvm64() -> None:
    from cozyplan_proxmox.cozystack import cpu_warnings

    assert cpu_warnings("host") == []
    assert "Talos needs x86-64-v2" in cpu_warnings("kvm64")[0]
    assert "unset (kvm64)" in cpu_warnings(None)[0]


def _oob_memory(lab: InProcessLab, vmid: int, memory: int, *, reboot: bool) -> None:
    """Someone changes the memory with the API (and reboots the VM)."""
    pve = api(lab)
    pve.nodes("pve").qemu(vmid).config.put(memory=memory)
    if reboot:
        wait(pve, pve.nodes("pve").qemu(vmid).status.reboot.post())


def test_out_of_band_memory_change_is_healed_with_a_reboot(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        await _base(p)
        vms = VmResource(p)
        created = await create(vms, SPEC)
        _oob_memory(lab, 1001, 4096, reboot=True)
        p.inventory.invalidate()
        seen = await vms.read_attrs(created)
        assert seen is not None and seen["memory"] == 4096
        planned = vms.dump(vms.parse(SPEC))
        changes = vms.plan(seen, planned)
        assert [c.path_str for c in changes] == ["memory"]
        (note,) = vms.update_notes(seen, planned, changes)
        assert note.startswith("requires reboot: memory")
        updated = await vms.apply(Action.UPDATE, seen, planned, changes, ApplyContext("a"))
        assert updated is not None and updated["pending"] == []
        # through the API: the VM runs with the spec's memory, nothing pending
        pve = api(lab)
        assert pve.nodes("pve").qemu(1001).config.get(current=1)["memory"] == 8192
        assert all("pending" not in e for e in pve.nodes("pve").qemu(1001).pending.get())
        assert sim(lab).pve.requests["POST /nodes/{node}/qemu/{vmid}/status/reboot"] == 2
        p.inventory.invalidate()
        assert replan(vms, await vms.read_attrs(updated), SPEC) == []
        await p.close()

    run(scenario())


def test_reboot_never_leaves_the_change_pending_and_says_so(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        await _base(p)
        vms = VmResource(p)
        spec = {**SPEC, "reboot": "never"}
        created = await create(vms, spec)
        bigger = {**spec, "memory": 16384}
        planned = vms.dump(vms.parse(bigger))
        changes = vms.plan(created, planned)
        assert "reboot: never leaves them pending" in vms.update_notes(created, planned, changes)[0]
        updated = await vms.apply(Action.UPDATE, created, planned, changes, ApplyContext("a"))
        assert updated is not None and updated["pending"] == ["memory"]
        p.inventory.invalidate()
        seen = await vms.read_attrs(updated)
        assert seen is not None and seen["pending"] == ["memory"]
        assert replan(vms, seen, bigger) == []  # configured as the spec says...
        warnings = vms.plan_warnings({**planned, "pending": seen["pending"]})
        assert any("wait for its next reboot" in w for w in warnings)  # ...and says so
        assert api(lab).nodes("pve").qemu(1001).config.get(current=1)["memory"] == 8192
        await p.close()

    run(scenario())


def test_token_created_by_cozyplan_can_clone(lab: InProcessLab) -> None:
    """The token's ACL is granted to its user too (privsep intersects them)."""

    async def scenario() -> dict[str, Any]:
        p = make_provider(lab)
        await _base(p)
        tokens = TokenResource(p)
        body = {
            "userid": "capmox@pve",
            "create_user": True,
            "token_id": "capi",
            "privsep": True,
            "acl": [
                {"path": "/", "roles": ["PVEVMAdmin", "PVEAuditor"]},
                {"path": "/storage", "roles": ["PVEDatastoreAdmin"]},
                {"path": "/sdn/zones/localnetwork", "roles": ["PVESDNUser"]},
            ],
        }
        token = await create(tokens, body)
        assert replan(tokens, await tokens.read_attrs(token), body) == []
        await p.close()
        return token

    token = run(scenario())
    from test_proxmox_strict import _as_token

    capmox = _as_token(lab, token["value"])
    clone = capmox.nodes("pve").qemu(9100).clone.post(newid=130, name="by-capmox", full=1)
    assert wait(api(lab), clone)["exitstatus"] == "OK"


def test_vm_create_costs_at_most_8_requests(lab: InProcessLab) -> None:
    """Issue 13: counted by the lab, for VMs after the first of their kind."""

    async def scenario() -> None:
        p = make_provider(lab)
        await _base(p)
        vms = VmResource(p)
        await create(vms, SPEC, "proxmox_vm.a")
        counts = sim(lab).pve.requests
        before = sum(counts.values())
        for i in range(2, 5):
            body = vm(1000 + i, f"cozy-cp{i}", ipconfig0=f"ip=10.0.0.20{i}/24,gw=10.0.0.1")
            await create(vms, body, f"proxmox_vm.{i}")
        per_vm = (sum(counts.values()) - before) / 3
        assert per_vm <= 8, dict(counts)
        await p.close()

    run(scenario())
