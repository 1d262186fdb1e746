"""Every resource type through proxmoxer against the lab: create, read, re-plan, update,
adopt, drift, delete."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pve_helpers import create, make_provider, replan, run, sim, update
from pve_specs import IMAGE, TEMPLATE, vm

from cozyplan.errors import PermanentError, PlanError
from cozyplan.lab.runtime import InProcessLab
from cozyplan.plan import Action
from cozyplan.provider import ApplyContext
from cozyplan_proxmox import ImageResource, TemplateResource, TokenResource, VmResource


async def _base(provider: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    image = await create(ImageResource(provider), IMAGE)
    template = await create(TemplateResource(provider), TEMPLATE)
    return image, template


def test_image_template_vm_lifecycle(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        images, templates, vms = ImageResource(p), TemplateResource(p), VmResource(p)
        image, template = await _base(p)
        assert image["volid"] == "local:import/talos-v1.10.6-nocloud-amd64.qcow2"
        assert image["size"] > 0
        assert replan(images, await images.read_attrs(image), IMAGE) == []
        assert replan(templates, await templates.read_attrs(template), TEMPLATE) == []

        specs = {f"cp{i}": vm(1000 + i, f"cozy-cp{i}") for i in range(1, 4)}
        specs["w1"] = vm(None, "cozy-w1", started=False, full=False)
        created = dict(
            zip(
                specs,
                await asyncio.gather(
                    *(create(vms, body, f"proxmox_vm.{key}") for key, body in specs.items())
                ),
                strict=True,
            )
        )
        assert created["cp1"]["ipv4_addresses"] == ["10.0.0.1"]
        assert created["cp2"]["ipv4_addresses"] == ["10.0.0.2"]
        assert created["w1"]["vmid"] >= 100 and created["w1"]["ipv4_addresses"] == []
        for key, body in specs.items():
            fresh = await vms.read_attrs(created[key])
            assert fresh is not None
            assert replan(vms, fresh, {**body, "vmid": created[key]["vmid"]}) == []

        # normalisation holds for a full config read too (not only the summary shortcut)
        full = make_provider(lab, full_refresh=True)
        again = await VmResource(full).read_attrs(created["cp1"])
        assert replan(vms, again, specs["cp1"]) == []
        await full.close()

        # in-place update of cores and a disk grow
        grown = {**specs["cp1"], "cores": 8, "disks": [{**specs["cp1"]["disks"][0], "size": "60G"}]}
        changes = vms.plan(created["cp1"], vms.dump(vms.parse(grown)))
        assert {c.path_str for c in changes} >= {"cores"}
        assert not any(c.forces_replace for c in changes)
        updated = await update(vms, created["cp1"], grown)
        assert updated["cores"] == 8 and updated["disks"][0]["size"] == "60G"
        assert replan(vms, await vms.read_attrs(updated), grown) == []

        # shrinking is refused at plan time; a template change forces replacement
        with pytest.raises(PlanError, match="cannot shrink"):
            vms.plan(updated, vms.dump(vms.parse(specs["cp1"])))
        moved = vms.plan(updated, vms.dump(vms.parse({**grown, "clone": 9200})))
        assert any(c.forces_replace and c.path_str == "clone" for c in moved)

        # delete one VM; a second delete of the gone VM succeeds
        ctx = ApplyContext("proxmox_vm.cp3")
        await vms.apply(Action.DELETE, created["cp3"], None, [], ctx)
        await vms.apply(Action.DELETE, created["cp3"], None, [], ctx)
        assert await vms.read_attrs(created["cp3"]) is None
        await p.close()

    run(scenario())


def test_drift_is_reported_and_healed(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        vms = VmResource(p)
        await _base(p)
        body = vm(1001, "cozy-cp1")
        state = await create(vms, body)
        # behind cozyplan's back: stop the VM and change its memory
        client = make_provider(lab).client
        await client.run_task("POST", "nodes/pve/qemu/1001/status/stop", "pve", "stop")
        await client.call("PUT", "nodes/pve/qemu/1001/config", memory=1024)
        p.inventory.invalidate()
        drifted = await vms.read_attrs(state)
        assert drifted is not None
        changes = {c.path_str: (c.before, c.after) for c in replan(vms, drifted, body)}
        assert changes == {"memory": (1024, 8192), "started": (False, True)}
        healed = await update(vms, drifted, body)
        assert replan(vms, await vms.read_attrs(healed), body) == []
        client.close()
        await p.close()

    run(scenario())


def test_create_adopts_same_name_and_refuses_other_name(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        vms = VmResource(p)
        await _base(p)
        first = await create(vms, vm(1005, "cozy-cp5"))
        # a crash after the clone: create again adopts, no second VM
        again = await create(vms, vm(1005, "cozy-cp5"), "other.address")
        assert again["vmid"] == first["vmid"] == 1005
        assert (
            len(
                [
                    v
                    for v in sim(lab).pve.store.vms().values()
                    if v["config"].get("name") == "cozy-cp5"
                ]
            )
            == 1
        )
        with pytest.raises(PermanentError, match="already used by VM 'cozy-cp5'"):
            await create(vms, vm(1005, "intruder"))
        # the same vmid as a template with another name is refused too
        with pytest.raises(PermanentError, match=r"does not overwrite"):
            await create(TemplateResource(p), {**TEMPLATE, "vmid": 1005})
        await p.close()

    run(scenario())


def test_api_token_lifecycle(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        tokens = TokenResource(p)
        body: dict[str, Any] = {
            "userid": "capmox@pve",
            "token_id": "capi",
            "create_user": True,
            "comment": "CAPI",
            "acl": [{"path": "/", "roles": ["PVEVMAdmin", "PVEAuditor"]}],
        }
        state = await create(tokens, body)
        assert state["full_token_id"] == "capmox@pve!capi"
        assert len(state["value"]) == 36
        assert tokens.schema().sensitive_at(("value",))
        fresh = await tokens.read_attrs(state)
        assert fresh is not None and fresh["value"] == state["value"]
        assert replan(tokens, fresh, body) == []
        # the token works against the API with its ACL
        other = make_provider(lab, token_id="capmox@pve!capi", token_secret=state["value"])
        assert await other.client.call("GET", "version")
        await other.close()
        changed = {**body, "comment": "CAPI v2", "acl": [{"path": "/vms", "roles": ["PVEVMUser"]}]}
        updated = await update(tokens, fresh, changed)
        assert updated["value"] == state["value"]
        assert replan(tokens, await tokens.read_attrs(updated), changed) == []
        # recreating an existing token whose secret is unknown regenerates it
        regenerated = await create(tokens, body)
        assert regenerated["value"] != state["value"]
        await tokens.apply(Action.DELETE, regenerated, None, [], ApplyContext("t"))
        assert await tokens.read_attrs(regenerated) is None
        await tokens.apply(Action.DELETE, regenerated, None, [], ApplyContext("t"))
        await p.close()

    run(scenario())


def test_image_drift_and_delete(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        images = ImageResource(p)
        state = await create(images, IMAGE)
        again = await create(images, IMAGE)  # adopts
        assert again["volid"] == state["volid"]
        await images.apply(Action.DELETE, state, None, [], ApplyContext("i"))
        assert await images.read_attrs(state) is None
        await p.close()

    run(scenario())


def test_guest_agent_fails_fast_with_clear_message(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab)
        await _base(p)
        with pytest.raises(PermanentError, match="qemu-guest-agent"):
            await create(VmResource(p), vm(None, "agentless", agent=True, agent_timeout=30))
        await p.close()

    run(scenario())
