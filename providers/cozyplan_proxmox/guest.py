"""IPv4 discovery through the QEMU guest agent: bounded, fails fast, skips link-local."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from cozyplan.provider import PermanentError
from cozyplan_proxmox.client import PveClient
from cozyplan_proxmox.errors import ApiPermanentError, ApiTemporaryError
from cozyplan_proxmox.qemu import vm_path


def usable_ipv4(reply: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for iface in reply.get("result", []) or []:
        for addr in iface.get("ip-addresses", []) or []:
            if addr.get("ip-address-type") != "ipv4":
                continue
            try:
                ip = ipaddress.IPv4Address(str(addr.get("ip-address")))
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
                continue
            out.append(str(ip))
    return sorted(set(out))


async def agent_ipv4(
    client: PveClient, node: str, vmid: int, name: str, timeout: float
) -> list[str]:
    """Addresses reported by the agent, waiting at most ``timeout`` (scaled) seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + client.ctx.scaled(timeout)
    last = ""
    while True:
        try:
            reply = await client.call(
                "GET", vm_path(node, vmid) + "/agent/network-get-interfaces", retries=0
            )
            found = usable_ipv4(reply or {})
            if found:
                return found
            last = "the agent reports no usable IPv4 address yet"
        except (ApiPermanentError, ApiTemporaryError) as exc:
            text = exc.pve_message
            if "No QEMU guest agent configured" in text:
                raise PermanentError(
                    f"VM {vmid} ({name}): no QEMU guest agent configured; set agent: true "
                    "or give the addresses in the spec (ipv4_addresses or ipconfig0)"
                ) from None
            last = text or str(exc)
        if loop.time() >= deadline:
            raise PermanentError(
                f"VM {vmid} ({name}): no IPv4 address from the QEMU guest agent after "
                f"{timeout:.0f}s ({last}). Stock Talos images have no qemu-guest-agent: use an "
                "Image Factory image with the siderolabs/qemu-guest-agent extension, or set "
                "ipv4_addresses / ipconfig0 in the spec"
            )
        await asyncio.sleep(client.ctx.scaled(2.0))
