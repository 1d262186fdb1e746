"""Fixtures: an in-process lab running only the Proxmox simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pve_helpers import SCALE

import cozyplan.lab.runtime as runtime
from cozyplan.lab.proxmox import ProxmoxSimulator
from cozyplan.lab.runtime import InProcessLab


@pytest.fixture
def lab_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_options: dict[str, Any]
) -> Iterator[InProcessLab]:
    # only this area's simulator: other simulators are tested in their own areas
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [ProxmoxSimulator])
    with InProcessLab(
        tmp_path / "lab", time_scale=SCALE, options={"proxmox": dict(lab_options)}
    ) as the_lab:
        yield the_lab
