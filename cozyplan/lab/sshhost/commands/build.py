"""Emulated toolchain: ``python3`` (venv, pip, ``-m ziglang``), ``zig`` and the ``nexcage`` binary.

The behaviour follows what the real tools do for the NexCage v0.7.3 build: pip refuses the
system Python (PEP 668), ``zig build`` needs ``build.zig`` and the C libraries, NexCage loads its
config before any command and panics (exit 134) on a string ``runtime``.
"""

from __future__ import annotations

import json
import posixpath
import re

from cozyplan.lab.sshhost.host import Command, Proc, lab_binary

BUILD_LIBS = {"libcap-dev": "cap", "libseccomp-dev": "seccomp", "libyajl-dev": "yajl"}
NEXCAGE_COMMANDS = (
    "run",
    "help",
    "version",
    "create",
    "start",
    "stop",
    "delete",
    "list",
    "health",
    "state",
    "kill",
)
CONFIG_PATHS = ("config.json", "/etc/nexcage/config.json", "/etc/nexcage/nexcage.json")


def _site(venv: str) -> str:
    return posixpath.join(venv, "lib", "python3.11", "site-packages")


async def python3(p: Proc) -> int:
    args = p.argv[1:]
    if args[:2] == ["-m", "venv"] and len(args) >= 3:
        if "python3-venv" not in p.host.packages:
            return p.fail(
                "The virtual environment was not created successfully because ensurepip is not\n"
                "available.  On Debian/Ubuntu systems, you need to install the python3-venv\n"
                "package using the following command.\n\n    apt install python3.11-venv",
                1,
            )
        venv = p.path(args[-1])
        p.fs.mkdir(posixpath.join(venv, "bin"), parents=True)
        p.fs.mkdir(_site(venv), parents=True)
        for name in ("python", "python3", "pip"):
            p.fs.write(posixpath.join(venv, "bin", name), lab_binary("python", venv), mode=0o755)
        p.fs.write(posixpath.join(venv, "pyvenv.cfg"), b"home = /usr/bin\n")
        return 0
    if args[:2] == ["-m", "pip"]:
        return p.fail(
            "error: externally-managed-environment\n\nThis environment is externally managed",
            1,
        )
    if args[:1] == ["-m"] and len(args) > 1:
        return p.fail(f"/usr/bin/python3: No module named {args[1]}", 1)
    return p.fail("python3: lab supports only -m venv|pip|<module>", 2)


async def venv_python(p: Proc) -> int:
    venv = p.binary[1]
    args = p.argv[1:]
    if posixpath.basename(p.argv[0]) == "pip":
        args = ["-m", "pip", *args]
    marker = posixpath.join(_site(venv), "ziglang", "VERSION")
    if args[:3] == ["-m", "pip", "install"]:
        for req in args[3:]:
            if req.startswith("-"):
                continue
            m = re.fullmatch(r"ziglang==(\d+\.\d+\.\d+)", req)
            if m is None:
                return p.fail(f"ERROR: lab index has no distribution for {req}", 1)
            await p.host.world.sleep(5)
            p.fs.mkdir(posixpath.dirname(marker), parents=True)
            p.fs.write(marker, m.group(1).encode())
            p.print(f"Successfully installed ziglang-{m.group(1)}\n")
        return 0
    if args[:2] == ["-m", "ziglang"]:
        if not p.fs.is_file(marker):
            return p.fail(f"{p.argv[0]}: No module named ziglang", 1)
        return await zig_main(p, p.fs.read(marker).decode(), args[2:])
    return p.fail("python: lab supports only -m pip install / -m ziglang", 2)


async def zig(p: Proc) -> int:
    return await zig_main(p, p.binary[1], p.argv[1:])


async def zig_main(p: Proc, version: str, args: list[str]) -> int:
    if args[:1] == ["version"]:
        p.print(version + "\n")
        return 0
    if args[:1] != ["build"]:
        return p.fail("zig: lab supports only `version` and `build`", 2)
    if not p.fs.is_file(p.path("build.zig")):
        return p.fail(
            "error: no build.zig file found, in the current directory or any parent directories",
            1,
        )
    zon = (
        p.fs.read(p.path("build.zig.zon")).decode() if p.fs.is_file(p.path("build.zig.zon")) else ""
    )
    wanted = re.search(r'minimum_zig_version\s*=\s*"([^"]+)"', zon)
    if wanted and wanted.group(1) != version:
        return p.fail(f"error: zig {version} is older/newer than the required {wanted.group(1)}")
    for package, lib in BUILD_LIBS.items():
        if package not in p.host.packages:
            return p.fail(f"error: unable to find dynamic system library '{lib}'", 1)
    await p.host.world.sleep(120)
    built = (
        p.fs.read(p.path("VERSION")).decode().strip()
        if p.fs.is_file(p.path("VERSION"))
        else "0.0.0"
    )
    out = p.path("zig-out/bin")
    p.fs.mkdir(out, parents=True)
    p.fs.write(posixpath.join(out, "nexcage"), lab_binary("nexcage", built), mode=0o755)
    return 0


def _load_config(p: Proc) -> int | None:
    """Apply NexCage's config loading; an exit status when it fails."""
    for name in CONFIG_PATHS:
        path = p.path(name)
        if not p.fs.is_file(path):
            continue
        try:
            config = json.loads(p.fs.read(path))
        except ValueError:
            return p.fail("error: InvalidConfig", 1)
        runtime = config.get("runtime") if isinstance(config, dict) else None
        if runtime is not None and not isinstance(runtime, dict):
            return p.fail(
                "thread 1 panic: access of union field 'object' while field "
                f"'{type(runtime).__name__}' is active",
                134,
            )
        log_path = (runtime or {}).get("log_path")
        if isinstance(log_path, str) and not p.fs.is_dir(posixpath.dirname(log_path) or "/"):
            return p.fail("error: FileNotFound", 1)
        return None
    return None


async def nexcage(p: Proc) -> int:
    failed = _load_config(p)
    if failed is not None:
        return failed
    command = p.argv[1] if len(p.argv) > 1 else "help"
    if command == "version":
        p.print(f"nexcage version {p.binary[1]}\n")
        return 0
    if command == "health":
        p.print("nexcage: ok (pct found)\n")
        return 0
    if command in ("help", "--help", "-h"):
        p.print("Usage: nexcage <command>\nCommands: " + " ".join(NEXCAGE_COMMANDS) + "\n")
        return 0
    if command == "list":
        return 0
    if command in NEXCAGE_COMMANDS:
        return p.fail(f"error: lab does not run containers ({command})", 1)
    return p.fail("error: CommandNotFound", 1)


COMMANDS: dict[str, Command] = {"python3": python3}
PROGRAMS: dict[str, Command] = {"python": venv_python, "zig": zig, "nexcage": nexcage}
