"""A child process forked from a warm process instead of a fresh interpreter.

In a command forked from the command server (``child.WARM``) everything is imported already:
starting the lab as ``python -m cozyplan.lab.runtime`` would import it all again (~0.5 s of
CPU). ``popen_module`` forks instead and calls the module's ``main(argv)`` in the child, with
the same pipes ``subprocess.Popen`` would have given it; anywhere else (or with threads
running, whose locks a fork would copy) it is ``subprocess.Popen`` of the interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, NoReturn, Protocol


class ChildProcess(Protocol):
    """The part of ``subprocess.Popen`` the lab uses."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def popen_module(module: str, argv: list[str]) -> ChildProcess:
    """``python -m MODULE ARGV`` with piped stdin and stdout, in a session of its own."""
    from cozyplan.server import child

    if child.WARM and threading.active_count() == 1:
        return ForkedChild(module, argv)
    return subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


def run_and_exit(body: Callable[[], object], *, failed: int = 1) -> NoReturn:
    """The end of a forked child: run ``body``, then leave with its exit status (0, a
    ``SystemExit``'s code, or ``failed`` after printing an exception) without returning into
    the parent's code. ``atexit`` handlers run for a ``SystemExit`` (a profiler's report)."""
    code = failed
    try:
        body()
        code = 0
    except SystemExit as exc:
        atexit._run_exitfuncs()
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkedChild:
    def __init__(self, module: str, argv: list[str]) -> None:
        main = importlib.import_module(module).main  # imported already: a lookup
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns here

            def child() -> None:
                os.setsid()
                os.close(in_w)
                os.close(out_r)
                os.dup2(in_r, 0)
                os.dup2(out_w, 1)
                os.close(in_r)
                os.close(out_w)
                sys.argv = ["python -m " + module, *argv]
                main(argv)

            run_and_exit(child)
        os.close(in_r)
        os.close(out_w)
        self.pid = pid
        self.stdin: IO[bytes] | None = os.fdopen(in_w, "wb")
        self.stdout: IO[bytes] | None = os.fdopen(out_r, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"forked {self.pid}", timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
