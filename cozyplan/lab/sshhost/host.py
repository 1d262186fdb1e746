"""One simulated host: its filesystem, its package/service state, and running command lines."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.framework import LabWorld
from cozyplan.lab.sshhost.fakefs import FakeFS, FSError
from cozyplan.lab.sshhost.shell import ShellSyntaxError, split_lists, tokenize

HISTORY_LIMIT = 400
SAVE_DELAY = 0.2
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BINARY_MAGIC = b"#!lab "


@dataclass
class Proc:
    """One running command: its argv, I/O buffers and the host it runs on."""

    host: SimHost
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdin: bytes = b""
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    binary: list[str] = field(default_factory=list)  # marker args of a "#!lab" binary

    @property
    def fs(self) -> FakeFS:
        return self.host.fs

    def path(self, p: str) -> str:
        return FakeFS.norm(p, self.cwd)

    def print(self, text: str) -> None:
        self.out += text.encode("utf-8", "surrogateescape")

    def error(self, text: str) -> None:
        self.err += text.encode("utf-8", "surrogateescape")

    def fail(self, text: str, code: int = 1) -> int:
        self.error(text.rstrip("\n") + "\n")
        return code

    async def run(self, argv: list[str], cwd: str | None = None) -> int:
        """Run a sub-command sharing this process's output (like a shell script line)."""
        sub = Proc(self.host, argv, cwd or self.cwd, dict(self.env), b"", self.out, self.err)
        return await self.host.exec(sub)


Command = Callable[[Proc], Awaitable[int]]


@dataclass
class CommandSpec:
    run: Command
    package: str | None = None  # the Debian package that provides it; absent when not installed


class SimHost:
    """A simulated Proxmox VE host (Debian 12) whose state lives in the lab world."""

    def __init__(
        self,
        world: LabWorld,
        name: str,
        data: dict[str, Any],
        registry: dict[str, CommandSpec],
        programs: dict[str, Command],
    ) -> None:
        self.world = world
        self.name = name
        self.data = data
        self.registry = registry
        self.programs = programs
        # saved once per command line (and per SFTP file), not per filesystem operation
        self.fs = FakeFS(data.setdefault("fs", {}), lambda: None)
        data.setdefault("history", [])
        self._save_pending = False

    def save(self) -> None:
        """Persist the world soon: saves are coalesced (the lab also saves when it stops)."""
        if self._save_pending:
            return
        self._save_pending = True

        def flush() -> None:
            self._save_pending = False
            self.world.save()

        asyncio.get_running_loop().call_later(SAVE_DELAY, flush)

    @property
    def packages(self) -> dict[str, str]:
        """Installed packages: name -> version."""
        installed: dict[str, str] = self.data.setdefault("packages", {})
        return installed

    def record(self, argv: list[str], code: int) -> None:
        history: list[dict[str, Any]] = self.data["history"]
        history.append({"argv": list(argv), "exit": code})
        del history[:-HISTORY_LIMIT]
        self.data["executed"] = self.data.get("executed", 0) + 1  # total, for "since" queries

    async def run_line(
        self, line: str, stdin: bytes = b"", user: str = "root"
    ) -> tuple[int, bytes, bytes]:
        """Run one command line as ``sh -c`` would; returns (exit status, stdout, stderr)."""
        env = {
            "PATH": DEFAULT_PATH,
            "HOME": "/root" if user == "root" else f"/home/{user}",
            "USER": user,
        }
        out, err = bytearray(), bytearray()
        try:
            commands = split_lists(tokenize(line))
        except ShellSyntaxError as exc:
            return 2, b"", f"sh: 1: lab shell: {exc}\n".encode()
        cwd = env["HOME"] if self.fs.is_dir(env["HOME"]) else "/"
        code = 0
        for op, argv in commands:
            if (op == "&&" and code != 0) or (op == "||" and code == 0):
                continue
            if argv[0] == "cd":
                target = FakeFS.norm(argv[1] if len(argv) > 1 else env["HOME"], cwd)
                if self.fs.is_dir(target):
                    cwd, code = target, 0
                else:
                    err += f"sh: 1: cd: can't cd to {argv[1] if len(argv) > 1 else ''}\n".encode()
                    code = 2
                continue
            proc = Proc(self, argv, cwd, dict(env), stdin, out, err)
            stdin = b""
            code = await self.exec(proc)
        self.save()
        return code, bytes(out), bytes(err)

    async def exec(self, proc: Proc) -> int:
        """Run one argv: a program file in the fake FS or a system command."""
        name = proc.argv[0]
        try:
            code = await self._exec(proc, name)
        except FSError as exc:
            code = proc.fail(f"{posixpath.basename(name)}: {exc.path}: {exc.reason}")
        self.record(proc.argv, code)
        return code

    async def _exec(self, proc: Proc, name: str) -> int:
        if "/" in name:
            return await self._exec_file(proc, proc.path(name))
        spec = self.registry.get(name)
        if spec is not None and (spec.package is None or spec.package in self.packages):
            return await spec.run(proc)
        for d in proc.env.get("PATH", DEFAULT_PATH).split(":"):
            candidate = posixpath.join(d, name)
            if self.fs.is_file(candidate):
                return await self._exec_file(proc, candidate)
        return proc.fail(f"sh: 1: {name}: not found", 127)

    async def _exec_file(self, proc: Proc, path: str) -> int:
        node = self.fs.get(path)
        if node is None:
            return proc.fail(f"sh: 1: {proc.argv[0]}: not found", 127)
        if node["type"] != "file" or not node["mode"] & 0o111:
            return proc.fail(f"sh: 1: {proc.argv[0]}: Permission denied", 126)
        head = self.fs.read(path).split(b"\n", 1)[0]
        if not head.startswith(BINARY_MAGIC):
            return proc.fail(f"sh: 1: {proc.argv[0]}: Exec format error", 126)
        marker = head[len(BINARY_MAGIC) :].decode().split()
        program = self.programs.get(marker[0]) if marker else None
        if program is None:
            return proc.fail(f"sh: 1: {proc.argv[0]}: Exec format error", 126)
        proc.binary = [path, *marker[1:]]
        return await program(proc)


def lab_binary(program: str, *args: str) -> bytes:
    """The content of a fake executable that runs the emulator ``program``."""
    return BINARY_MAGIC + " ".join((program, *args)).encode() + b"\n" + b"\x7fELF (lab)\n"
