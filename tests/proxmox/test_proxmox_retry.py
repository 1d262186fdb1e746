"""Non-idempotent calls read before they retry (issue 11, item 6)."""

from __future__ import annotations

from typing import Any

import pytest
from pve_helpers import create, make_provider, run, sim
from pve_specs import IMAGE, TEMPLATE

from cozyplan.lab.runtime import InProcessLab
from cozyplan_proxmox import ImageResource, TemplateResource


@pytest.fixture
def lab_options() -> dict[str, Any]:
    return {"drop_once": ["POST /nodes/{node}/qemu/{vmid}/template"]}


def test_lost_template_answer_is_read_before_retry(lab: InProcessLab) -> None:
    """The conversion happened but its answer was lost: a blind retry would fail with
    "you can't convert a template to a template"."""

    async def scenario() -> None:
        p = make_provider(lab)
        await create(ImageResource(p), IMAGE)
        template = await create(TemplateResource(p), TEMPLATE)
        assert template["vmid"] == 9100
        assert sim(lab).pve.faults.injected["drop"] == 1
        # re-read first; if the lost conversion still ran, its refusal is taken as done
        assert sim(lab).pve.store.vms()["9100"]["config"]["template"] == 1
        await p.close()

    run(scenario())
