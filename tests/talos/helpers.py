"""Building rendered configs for the node tests."""

from __future__ import annotations

from typing import Any

from cozyplan.provider import ApplyContext
from cozyplan_talos import TalosProvider
from cozyplan_talos.resources import TalosMachineConfig, TalosSecrets
from cozyplan_talos.resources.machine_config import MachineConfigModel


async def rendered(
    provider: TalosProvider,
    *,
    secrets_yaml: str | None = None,
    machine_type: str = "controlplane",
    patches: list[Any] | None = None,
) -> MachineConfigModel:
    actx = ApplyContext("test")
    if secrets_yaml is None:
        res = TalosSecrets(provider)
        secrets_yaml = (await res.create(res.parse({}), actx)).secrets_yaml
    mc = TalosMachineConfig(provider)
    return await mc.create(
        mc.parse(
            {
                "cluster_name": "cozy",
                "endpoint": "https://10.0.0.201:6443",
                "machine_type": machine_type,
                "secrets": secrets_yaml,
                "patches": patches or [],
            }
        ),
        actx,
    )
