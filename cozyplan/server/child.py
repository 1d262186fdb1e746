"""Turning a freshly forked copy of the command server into the process of one command.

After ``become_command`` the process is what ``cozyplan ARGV`` started from the client's shell
would have been: its stdin, stdout and stderr are the client's (a terminal stays a terminal:
prompts, colours and live progress work), and so are its working directory, umask,
environment and arguments. It runs in a session of its own, so the server can end it and what
it started at once; the terminal's signals reach it through the client.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from typing import Any, NoReturn, TextIO

#: set in a process forked from a warm server: it may fork further children (``spawn``)
#: instead of starting interpreters that would import everything again
WARM = False


def become_command(request: dict[str, Any], fds: list[int]) -> NoReturn:
    global WARM
    WARM = True
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    argv = [str(arg) for arg in request["argv"]]
    sys.argv = ["cozyplan", *argv]
    _stdio(request.get("stdio") or [])
    from cozyplan.cli.app import run_local

    run_local(argv)


def _stdio(settings: list[dict[str, Any]]) -> None:
    """New ``sys.stdin``/``stdout``/``stderr`` on descriptors 0-2, buffered as an interpreter
    started on them would buffer (line-buffered on a terminal, stderr always). The original
    ``sys.__stdout__`` and friends need no change: they write to descriptors 0-2 too."""

    def setting(fd: int) -> dict[str, Any]:
        return settings[fd] if fd < len(settings) else {}

    def text(buffer: io.BufferedReader | io.BufferedWriter, fd: int, line: bool) -> TextIO:
        return io.TextIOWrapper(
            buffer,
            encoding=setting(fd).get("encoding") or "utf-8",
            errors=setting(fd).get("errors") or "strict",
            line_buffering=line,
        )

    sys.stdin = text(io.BufferedReader(io.FileIO(0, "rb", closefd=False)), 0, False)
    out = io.FileIO(1, "wb", closefd=False)
    sys.stdout = text(io.BufferedWriter(out), 1, out.isatty())
    sys.stderr = text(io.BufferedWriter(io.FileIO(2, "wb", closefd=False)), 2, True)
