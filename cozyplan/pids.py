"""Whether a process runs: for pid files and lock holders (labs, the command server)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (an exited one that is not yet reaped does not)."""
    # a process this one started and that has exited is a zombie until reaped, and a zombie
    # still answers kill(0): reap it first (ChildProcessError: not our child)
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a process that is not our child (a background lab, a command server) is a zombie, once
    # it exits, until its adoptive parent (init, a container's first process) reaps it, which
    # can take seconds
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2 :].startswith("Z"):
            return False
    return True
