"""Helpers for the Proxmox tests: provider construction and apply/plan shortcuts."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from cozyplan.lab.proxmox import ProxmoxSimulator
from cozyplan.lab.runtime import InProcessLab
from cozyplan.plan import Action
from cozyplan.provider import ApplyContext, ProviderContext, Resource
from cozyplan_proxmox import ProxmoxProvider
from cozyplan_proxmox.config import ProxmoxConfig

T = TypeVar("T")
SCALE = 0.01


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def make_provider(lab: InProcessLab, **overrides: Any) -> ProxmoxProvider:
    settings = {**lab.provider_settings()["proxmox"], **overrides}
    ctx = ProviderContext(resolve_endpoint=lab.resolve, time_scale=SCALE)
    return ProxmoxProvider(ProxmoxConfig.model_validate(settings), ctx)


def sim(lab: InProcessLab) -> ProxmoxSimulator:
    found = lab.runtime.simulators[0]
    assert isinstance(found, ProxmoxSimulator)
    return found


async def create(
    res: Resource[Any, Any], attrs: dict[str, Any], address: str = "test.addr"
) -> dict[str, Any]:
    out = await res.apply(
        Action.CREATE, None, res.dump(res.parse(attrs)), [], ApplyContext(address)
    )
    assert out is not None
    return out


async def update(
    res: Resource[Any, Any], prior: dict[str, Any], desired: dict[str, Any]
) -> dict[str, Any]:
    planned = {**res.dump(res.parse(desired))}
    changes = res.plan(prior, planned)
    out = await res.apply(Action.UPDATE, prior, planned, changes, ApplyContext("test.addr"))
    assert out is not None
    return out


def replan(
    res: Resource[Any, Any], observed: dict[str, Any] | None, spec: dict[str, Any]
) -> list[Any]:
    assert observed is not None
    return res.plan(prior=observed, desired=res.dump(res.parse(spec)))
