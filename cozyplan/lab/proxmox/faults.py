"""Latency and fault injection, read live from ``world.option("proxmox", ...)``.

Options (all optional):
``latency``: {operation: simulated seconds} overriding ``DEFAULT_LATENCY``;
``error_rate``: share of requests answered with a 5xx before they are handled;
``lock_rate``: share of VM writes that find the config lock held (lock-timeout error);
``drop_rate``: share of requests whose connection is dropped (half before, half after the
request was carried out, like a proxy timing out);
``drop_once``: routes (``"POST /nodes/{node}/qemu/{vmid}/template"``) whose first request is
carried out and then loses its answer (a deterministic lost response).
"""

from __future__ import annotations

from cozyplan.lab.framework import FaultInjector, LabWorld

DEFAULT_LATENCY: dict[str, float] = {
    "request": 0.002,
    "create": 1.0,
    "clone": 2.0,
    "linked_clone": 0.5,
    "template": 1.0,
    "start": 1.0,
    "shutdown": 2.0,
    "stop": 0.5,
    "destroy": 1.0,
    "download": 5.0,
    "resize": 0.5,
    "config": 0.2,
    "agent_boot": 15.0,
    "lock_timeout": 10.0,
}


class Faults(FaultInjector):
    simulator = "proxmox"
    kinds = ("error", "lock", "drop")
    default_latency = DEFAULT_LATENCY

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        self._dropped: set[str] = set()

    def drop_once(self, route: str) -> bool:
        """True the first time ``route`` is named in the ``drop_once`` option."""
        if route in self._dropped or route not in (self.option("drop_once", []) or []):
            return False
        self._dropped.add(route)
        self.injected["drop"] += 1
        return True
