"""With 20% injected 5xx / lock / dropped-connection faults, apply converges, no duplicates."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from pve_helpers import create, make_provider, replan, run, sim
from pve_specs import IMAGE, TEMPLATE, vm

from cozyplan.errors import TemporaryError
from cozyplan.lab.runtime import InProcessLab
from cozyplan_proxmox import ImageResource, TemplateResource, VmResource


@pytest.fixture
def lab_options() -> dict[str, Any]:
    return {"error_rate": 0.1, "lock_rate": 0.1, "drop_rate": 0.05}


async def _engine_like(coro_factory: Any, attempts: int = 8) -> Any:
    """What the engine does with TemporaryError: try the step again."""
    for attempt in range(attempts):
        try:
            return await coro_factory()
        except TemporaryError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01)
    raise AssertionError


def test_faults_converge_without_duplicates(lab: InProcessLab) -> None:
    async def scenario() -> None:
        p = make_provider(lab, retries=8)
        await _engine_like(lambda: create(ImageResource(p), IMAGE))
        await _engine_like(lambda: create(TemplateResource(p), TEMPLATE))
        vms = VmResource(p)
        bodies = {f"n{i}": vm(None, f"node-{i}") for i in range(8)}
        results = await asyncio.gather(
            *(
                _engine_like(lambda key=key, body=body: create(vms, body, f"proxmox_vm.{key}"))
                for key, body in bodies.items()
            )
        )
        names = Counter(v["config"].get("name") for v in sim(lab).pve.store.vms().values())
        assert all(names[f"node-{i}"] == 1 for i in range(8)), names
        injected = sim(lab).pve.faults.injected
        assert sum(injected.values()) > 0
        lab.runtime.world.options["proxmox"] = {}
        p.inventory.invalidate()
        for body, state in zip(bodies.values(), results, strict=True):
            assert replan(vms, await vms.read_attrs(state), body) == []
        await p.close()

    run(scenario())
