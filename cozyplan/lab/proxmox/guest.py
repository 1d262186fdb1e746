"""What runs inside a simulated VM: its IPv4 address, guest agent, and world events."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.proxmox.errors import ApiError
from cozyplan.lab.proxmox.sizes import parse_props


def vm_ipv4(vmid: int, config: dict[str, Any]) -> list[str]:
    """From ``ipconfig0`` (``ip=10.0.0.201/24,gw=...``) when static, else the lab lease."""
    raw = config.get("ipconfig0")
    if raw:
        _, props = parse_props(str(raw), "-")
        ip = props.get("ip", "")
        if ip and ip not in ("dhcp", "manual"):
            return [ip.split("/")[0]]
    return [f"10.0.0.{100 + vmid % 100}"]


def agent_enabled(config: dict[str, Any]) -> bool:
    raw = str(config.get("agent", "0"))
    first, props = parse_props(raw, "enabled")
    return (props.get("enabled", first) or "0") in ("1", "on", "true", "yes")


def agent_installed(image: str) -> bool:
    """Stock Talos images have no qemu-guest-agent; Image Factory ones with it do."""
    return "talos" not in image.lower() or "agent" in image.lower()


def event_payload(node: str, vmid: int, vm: dict[str, Any], full: bool) -> dict[str, Any]:
    config = vm["config"]
    payload: dict[str, Any] = {"node": node, "vmid": vmid, "ipv4": vm_ipv4(vmid, config)}
    if full:
        payload["name"] = config.get("name", f"VM{vmid}")
        payload["image"] = vm.get("image", "")
        payload["tags"] = [t for t in str(config.get("tags", "")).split(";") if t]
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
    ip = vm_ipv4(vmid, config)[0]
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
                    {"ip-address": ip, "ip-address-type": "ipv4", "prefix": 24},
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
