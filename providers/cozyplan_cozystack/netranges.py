"""IPv4 ranges a spec hands out and the node addresses it uses, for the overlap checks at
``validate`` time: a MetalLB pool (``cozystack_networking``) and a Cluster API address pool
(``proxmox_cluster``, the capmox provider) must not contain a node address or each other.

Values only known at apply time are skipped, never guessed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cozyplan.provider import SpecView, contains_unknown

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    """Addresses ``first``..``last`` declared at ``path`` of block ``address`` (as ``text``)."""

    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address
    address: str
    path: Path
    text: str

    def overlaps(self, other: Span) -> bool:
        return self.first <= other.last and other.first <= self.last


def known(value: Any) -> bool:
    return value is not None and not contains_unknown(value)


def parse_range(text: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """``a.b.c.d-a.b.c.e``, ``a.b.c.d/nn`` or one address."""
    text = text.strip()
    if "-" in text:
        a, b = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
        if b < a:
            raise ValueError(f"range {text} ends before it starts")
        return a, b
    net = ipaddress.IPv4Network(text, strict=False)
    return net[0], net[-1]


def spans(address: str, path: Path, items: Any) -> Iterator[Span]:
    """The ranges of a list of range strings (those that do not parse are reported apart)."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, str) or not known(item):
            continue
        try:
            first, last = parse_range(item)
        except ValueError:
            continue
        yield Span(first, last, address, (*path, i), item)


def _one(ip_text: str, address: str, path: Path, where: str) -> Iterator[Span]:
    try:
        ip = ipaddress.IPv4Interface(ip_text).ip
    except ValueError:
        return
    yield Span(ip, ip, address, path, f"{where} {ip}")


def node_addresses(spec: SpecView) -> Iterator[Span]:
    """Each address a node of the spec uses: ``proxmox_vm`` ``ipv4_addresses`` and
    ``ipconfig0``, ``talos_node`` ``address`` (one address each, prefix length ignored)."""
    for block in spec.of_type("proxmox_vm"):
        for key, body in spec.instances(block):
            where = f"{block.address}[{key}]" if key else block.address
            for i, value in enumerate(body.get("ipv4_addresses") or []):
                if isinstance(value, str) and known(value):
                    yield from _one(value, block.address, ("ipv4_addresses", i), where)
            ipconfig = body.get("ipconfig0")
            if isinstance(ipconfig, str) and known(ipconfig):
                for part in ipconfig.split(","):
                    if part.startswith("ip=") and part[3:] not in ("dhcp", "manual"):
                        yield from _one(part[3:], block.address, ("ipconfig0",), where)
    for block in spec.of_type("talos_node"):
        for key, body in spec.instances(block):
            value = body.get("address")
            if isinstance(value, str) and known(value):
                where = f"{block.address}[{key}]" if key else block.address
                yield from _one(value, block.address, ("address",), where)
