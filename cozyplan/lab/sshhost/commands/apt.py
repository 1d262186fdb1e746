"""Emulated ``dpkg-query`` and ``apt-get`` over the host's package database."""

from __future__ import annotations

from cozyplan.lab.sshhost.host import Command, Proc

#: what the simulated Debian 12 / PVE 8 archive offers (name -> version)
ARCHIVE: dict[str, str] = {
    "build-essential": "12.9",
    "ca-certificates": "20230311",
    "curl": "7.88.1-10+deb12u12",
    "git": "1:2.39.5-0+deb12u2",
    "libcap-dev": "1:2.66-4",
    "libseccomp-dev": "2.5.4-1+deb12u1",
    "libyajl-dev": "2.1.0-3+deb12u2",
    "python3": "3.11.2-1+b1",
    "python3-venv": "3.11.2-1+b1",
    "python3-pip": "23.0.1+dfsg-1",
    "tar": "1.34+dfsg-1.2+deb12u1",
    "xz-utils": "5.4.1-1",
    "jq": "1.6-2.1",
    "htop": "3.2.2-2",
    "vim": "2:9.0.1378-2",
    "lxc-pve": "6.0.0-1",
    "pkg-config": "1.8.1-1",
    "make": "4.3-4.1",
    "gcc": "4:12.2.0-3",
}
PREINSTALLED = ("ca-certificates", "curl", "python3", "tar", "xz-utils", "lxc-pve")


def _format(fmt: str, name: str, version: str) -> str:
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")
    return (
        fmt.replace("${Package}", name)
        .replace("${Version}", version)
        .replace("${db:Status-Abbrev}", "ii ")
        .replace("${Status}", "install ok installed")
    )


async def dpkg_query(p: Proc) -> int:
    args = p.argv[1:]
    fmt = "${Package}\t${Version}\n"
    names: list[str] = []
    show = False
    while args:
        arg = args.pop(0)
        if arg in ("-W", "--show"):
            show = True
        elif arg.startswith("-f=") or arg.startswith("--showformat="):
            fmt = arg.split("=", 1)[1]
        elif arg in ("-f", "--showformat"):
            fmt = args.pop(0) if args else fmt
        elif arg == "--":
            names.extend(args)
            break
        else:
            names.append(arg)
    if not show:
        return p.fail("dpkg-query: lab supports only -W/--show", 2)
    code = 0
    installed = p.host.packages
    for name in names or sorted(installed):
        if name in installed:
            p.print(_format(fmt, name, installed[name]))
        else:
            code = p.fail(f"dpkg-query: no packages found matching {name}")
    return code


async def apt_get(p: Proc) -> int:
    args = [a for a in p.argv[1:] if not a.startswith("-")]
    if not args:
        return p.fail("E: Invalid operation", 100)
    op, names = args[0], args[1:]
    data = p.host.data
    if op == "update":
        await p.host.world.sleep(3)
        data["apt_lists"] = True
        p.print("Hit:1 http://deb.debian.org/debian bookworm InRelease\nReading package lists...\n")
        return 0
    if op in ("install", "remove", "purge"):
        unknown = [n for n in names if n not in ARCHIVE or not data.get("apt_lists")]
        if unknown and op == "install":
            return p.fail(f"E: Unable to locate package {unknown[0]}", 100)
        installed = p.host.packages
        for name in names:
            if op == "install" and name not in installed:
                await p.host.world.sleep(2)
                installed[name] = ARCHIVE[name]
                p.print(f"Setting up {name} ({ARCHIVE[name]}) ...\n")
            elif op != "install" and name in installed:
                del installed[name]
                p.print(f"Removing {name} ...\n")
        p.host.save()
        return 0
    return p.fail(f"E: Invalid operation {op}", 100)


COMMANDS: dict[str, Command] = {"dpkg-query": dpkg_query, "apt-get": apt_get}
