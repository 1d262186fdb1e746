"""A lab running only the Talos simulator, and a provider pointed at it over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cozyplan.lab.runtime as runtime
from cozyplan.lab.talos import TalosSimulator
from cozyplan.provider import ApplyContext, ProviderContext
from cozyplan_talos import TalosConfig, TalosProvider

TIME_SCALE = 0.01


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[runtime.InProcessLab]:
    # only this area's simulator: other simulators are tested in their own areas
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [TalosSimulator])
    with runtime.InProcessLab(tmp_path / "lab", time_scale=TIME_SCALE) as handle:
        yield handle


@pytest.fixture
def provider(lab: runtime.InProcessLab, tmp_path: Path) -> TalosProvider:
    ctx = ProviderContext(base_dir=tmp_path, resolve_endpoint=lab.resolve, time_scale=TIME_SCALE)
    return TalosProvider(TalosConfig(poll_interval=5), ctx)


@pytest.fixture
def actx() -> ApplyContext:
    return ApplyContext("test")


def talos_status(lab: runtime.InProcessLab) -> dict[str, Any]:
    status: dict[str, Any] = lab.status()["simulators"]["talos"]
    return status
