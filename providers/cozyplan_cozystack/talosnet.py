"""The cluster network each ``talos_machine_config`` in the spec will produce (statically).

CozyStack's settings come from the talos provider's own ``cozystack`` module (applied unless
``cozystack: false``), then the block's patches in order, as the talos provider renders them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from cozyplan import plainyaml
from cozyplan.provider import SpecView, contains_unknown
from cozyplan_talos import cozystack as talos_cozystack

#: Talos's defaults when CozyStack's settings are off (talos v1alpha1 generate)
TALOS_DNS_DOMAIN = "cluster.local"
TALOS_POD_SUBNET = "10.244.0.0/16"
TALOS_SERVICE_SUBNET = "10.96.0.0/12"


@dataclass(frozen=True)
class TalosNetwork:
    address: str  # the block
    path: tuple[str | int, ...]  # where the deciding value is written
    dns_domain: Any
    pod_subnets: Any
    service_subnets: Any
    endpoint: Any


def _network(patch: Any) -> dict[str, Any] | None:
    if isinstance(patch, str) and not contains_unknown(patch):
        try:
            patch = plainyaml.load(patch)
        except yaml.YAMLError:
            return None
    if not isinstance(patch, dict):
        return None
    network = (patch.get("cluster") or {}).get("network")
    return network if isinstance(network, dict) else None


def machine_networks(spec: SpecView) -> Iterator[TalosNetwork]:
    for block in spec.of_type("talos_machine_config"):
        seen = False
        for _, body in spec.instances(block):
            if seen:  # one report per block is enough; instances share the network
                break
            seen = True
            on = body.get("cozystack", True) is not False
            dns = talos_cozystack.DNS_DOMAIN if on else TALOS_DNS_DOMAIN
            pods: Any = [talos_cozystack.POD_SUBNET if on else TALOS_POD_SUBNET]
            services: Any = [talos_cozystack.SERVICE_SUBNET if on else TALOS_SERVICE_SUBNET]
            path: tuple[str | int, ...] = ()
            patches = body.get("patches")
            for i, patch in enumerate(patches if isinstance(patches, list) else []):
                network = _network(patch)
                if network is None:
                    continue
                if "dnsDomain" in network:
                    dns, path = network["dnsDomain"], ("patches", i)
                if "podSubnets" in network:
                    pods, path = network["podSubnets"], ("patches", i)
                if "serviceSubnets" in network:
                    services, path = network["serviceSubnets"], ("patches", i)
            yield TalosNetwork(block.address, path, dns, pods, services, body.get("endpoint"))
