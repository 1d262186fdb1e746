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

from typing import Any

from cozyplan.lab.framework import LabWorld

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


class Faults:
    def __init__(self, world: LabWorld) -> None:
        self.world = world
        self.injected: dict[str, int] = {"error": 0, "lock": 0, "drop": 0}
        self._dropped: set[str] = set()

    def option(self, key: str, default: Any = None) -> Any:
        return self.world.option("proxmox", key, default)

    def simulated(self, op: str) -> float:
        """Simulated seconds ``op`` takes (unscaled)."""
        overrides: dict[str, float] = self.option("latency", {}) or {}
        return float(overrides.get(op, DEFAULT_LATENCY[op]))

    def latency(self, op: str) -> float:
        """Real seconds ``op`` takes, scaled by the lab's time scale."""
        return self.world.scaled(self.simulated(op))

    def roll(self, kind: str) -> bool:
        rate = float(self.option(f"{kind}_rate", 0.0) or 0.0)
        hit = rate > 0 and self.world.rng.random() < rate
        if hit:
            self.injected[kind] += 1
        return hit

    def drop_once(self, route: str) -> bool:
        """True the first time ``route`` is named in the ``drop_once`` option."""
        if route in self._dropped or route not in (self.option("drop_once", []) or []):
            return False
        self._dropped.add(route)
        self.injected["drop"] += 1
        return True
