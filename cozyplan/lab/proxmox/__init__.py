"""The lab's Proxmox VE simulator: the PVE JSON API over HTTPS on loopback.

Modules: ``server`` (aiohttp, auth, envelope, faults), ``routes_*`` (API routes),
``tasks`` + ``locks`` (UPID workers, config locks), ``store`` (persistent world data),
``vmconfig`` (qemu config handling), ``guest`` (guest agent, addresses, events),
``faults`` (latency and fault options).
"""

from cozyplan.lab.proxmox.simulator import ProxmoxSimulator

__all__ = ["ProxmoxSimulator"]
