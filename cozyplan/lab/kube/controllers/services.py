"""LoadBalancer Services get an address from the cluster's pool (MetalLB's role on CozyStack;
set with ``KubeSimulator.set_lb_pool``); without a pool they stay ``<pending>``."""

from __future__ import annotations

import ipaddress

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.resources import ResourceType


def pool_addresses(pool: list[str]) -> list[str]:
    out: list[str] = []
    for entry in pool:
        if "-" in entry:
            first, last = (ipaddress.ip_address(p.strip()) for p in entry.split("-", 1))
            out += [str(ipaddress.ip_address(i)) for i in range(int(first), int(last) + 1)]
        elif "/" in entry:
            out += [str(ip) for ip in ipaddress.ip_network(entry, strict=False).hosts()]
        else:
            out.append(entry.strip())
    return out


class ServiceController(Controller):
    watches = (("", "Service"),)

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or (obj.get("spec") or {}).get("type") != "LoadBalancer":
            return
        if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        pool = pool_addresses(self.cluster.record.get("lb_pool") or [])
        used = {
            i.get("ip")
            for s in self.store.items(rt)
            for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        }
        free = [ip for ip in pool if ip not in used]
        if not free:
            return
        wanted = (obj.get("spec") or {}).get("loadBalancerIP")
        ip = wanted if wanted in free else free[0]
        self.write_status(rt, obj, {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}})
