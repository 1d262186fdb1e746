"""The command emulators of the simulated host, one module per tool family."""

from __future__ import annotations

from cozyplan.lab.sshhost.commands import apt, build, coreutils, git, pve, systemd
from cozyplan.lab.sshhost.host import Command, CommandSpec

#: system commands and the package that must be installed for them to exist
REGISTRY: dict[str, CommandSpec] = {
    **{name: CommandSpec(fn) for name, fn in coreutils.COMMANDS.items()},
    **{name: CommandSpec(fn) for name, fn in apt.COMMANDS.items()},
    **{name: CommandSpec(fn) for name, fn in systemd.COMMANDS.items()},
    **{name: CommandSpec(fn) for name, fn in pve.COMMANDS.items()},
    "git": CommandSpec(git.git, package="git"),
    "python3": CommandSpec(build.python3, package="python3"),
}
#: programs behind "#!lab <program>" executables in the fake filesystem
PROGRAMS: dict[str, Command] = dict(build.PROGRAMS)

__all__ = ["PROGRAMS", "REGISTRY"]
