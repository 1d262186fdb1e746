"""What runs inside a simulated VM: its IPv4 address, guest agent, and world events."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.proxmox.errors import ApiError
from cozyplan.lab.proxmox.sizes import cloudinit_slot, parse_props


def vm_ipv4(vmid: int, config: dict[str, Any]) -> list[str]:
    """The guest's IPv4 address as Talos nocloud would configure it.

    A static ``ipconfig0`` (``ip=10.0.0.201/24,gw=...``) only reaches the guest through a
    cloud-init drive (qemu-server generates data only for a ``vm-<vmid>-cloudinit`` volume):
    without one the guest never learns its address, and the lab's network has no lease for it.
    Without a static address the guest takes the lab's DHCP lease 10.0.0.(100 + vmid % 100).
    """
    raw = config.get("ipconfig0")
    if raw:
        _, props = parse_props(str(raw), "-")
        ip = props.get("ip", "")
        if ip and ip not in ("dhcp", "manual"):
            return [ip.split("/")[0]] if cloudinit_slot(config) else []
    return [f"10.0.0.{100 + vmid % 100}"]


def cpu_type(config: dict[str, Any]) -> str:
    """The effective CPU model: ``cpu: [cputype=]host[,flags=...]``, ``kvm64`` when unset
    (qemu-server ``CPUConfig.pm``)."""
    first, props = parse_props(str(config.get("cpu") or ""), "cputype")
    return first or props.get("cputype") or "kvm64"


def agent_enabled(config: dict[str, Any]) -> bool:
    raw = str(config.get("agent", "0"))
    first, props = parse_props(raw, "enabled")
    return (props.get("enabled", first) or "0") in ("1", "on", "true", "yes")


def agent_installed(image: str) -> bool:
    """Stock Talos images have no qemu-guest-agent; Image Factory ones with it do."""
    return "talos" not in image.lower() or "agent" in image.lower()


def event_payload(node: str, vmid: int, vm: dict[str, Any], full: bool) -> dict[str, Any]:
    """``vm.started`` (full) carries what the guest boots with: name, image, tags, the
    effective ``cpu`` type and whether a ``cloudinit`` drive exists (``ipv4`` is empty for a
    static ipconfig0 without one); the other events only say which VM."""
    config = vm["config"]
    payload: dict[str, Any] = {"node": node, "vmid": vmid, "ipv4": vm_ipv4(vmid, config)}
    if full:
        payload["name"] = config.get("name", f"VM{vmid}")
        payload["image"] = vm.get("image", "")
        payload["tags"] = [t for t in str(config.get("tags", "")).split(";") if t]
        payload["cpu"] = cpu_type(config)
        payload["cloudinit"] = cloudinit_slot(config) is not None
    return payload


def network_interfaces(
    vmid: int, vm: dict[str, Any], uptime: float, boot_delay: float
) -> dict[str, Any]:
    """``agent/network-get-interfaces`` or the error PVE gives for this VM's state."""
    config = vm["config"]
    if not agent_enabled(config):
        raise ApiError(500, "No QEMU guest agent configured")
    if vm["status"] != "running":
        raise ApiError(500, f"VM {vmid} is not running")
    if uptime < boot_delay or not agent_installed(vm.get("image", "")):
        raise ApiError(500, "QEMU guest agent is not running")
    mac = ""
    net0 = config.get("net0")
    if net0:
        first, _ = parse_props(str(net0), "model")
        mac = first.partition("=")[2]
    ips = vm_ipv4(vmid, config)
    return {
        "result": [
            {
                "name": "lo",
                "hardware-address": "00:00:00:00:00:00",
                "ip-addresses": [
                    {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                    {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128},
                ],
            },
            {
                "name": "eth0",
                "hardware-address": mac.lower(),
                "ip-addresses": [
                    *({"ip-address": ip, "ip-address-type": "ipv4", "prefix": 24} for ip in ips),
                    {
                        "ip-address": f"169.254.{vmid % 250}.{1 + vmid % 200}",
                        "ip-address-type": "ipv4",
                        "prefix": 16,
                    },
                    {
                        "ip-address": f"fe80::be24:11ff:fe00:{vmid:x}",
                        "ip-address-type": "ipv6",
                        "prefix": 64,
                    },
                ],
            },
        ]
    }
