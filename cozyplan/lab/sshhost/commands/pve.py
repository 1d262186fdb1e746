"""Emulated ``qm`` and ``pct`` (read-only listings; the Proxmox simulator owns the guests)."""

from __future__ import annotations

from cozyplan.lab.sshhost.host import Command, Proc


async def qm(p: Proc) -> int:
    if p.argv[1:2] == ["list"]:
        p.print("      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID\n")
        return 0
    return p.fail("qm: the lab host only supports `qm list`", 2)


async def pct(p: Proc) -> int:
    if p.argv[1:2] == ["list"]:
        p.print("VMID       Status     Lock         Name\n")
        return 0
    return p.fail("pct: the lab host only supports `pct list`", 2)


COMMANDS: dict[str, Command] = {"qm": qm, "pct": pct}
