"""The ``cozyplan`` side of the command server: hand the command over, or say it cannot be.

Standard library only, and nothing imported that the fallback would not need anyway: a command
that finds no server pays one failed ``connect`` (microseconds).

Once the server has answered with the pid of the process that runs the command, that process
*is* the command: this one only relays what the terminal sends it (Ctrl-C, ``kill``) and leaves
with the command's exit status, or dies of the same signal. If this process is killed outright,
the server kills the command (the connection closes), as killing a cold ``cozyplan`` would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from typing import Any

from cozyplan import __version__
from cozyplan.server import interpreter, mode, package_dir, socket_path, wire

#: what the terminal or a ``kill`` sends the command; the server passes these on
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
#: commands the server never runs: they manage the server itself
LOCAL_ONLY = frozenset({"server"})
#: command lines that need nothing heavy: faster on their own than forked (~0.05 s)
LIGHT: tuple[list[str], ...] = (["--version"], ["--help"], ["-h"], [])
#: how long a server started without ``cozyplan server start`` waits for a command
AUTO_IDLE_TIMEOUT = 1800.0


def run_via_server(argv: list[str]) -> int | None:
    """Run ``cozyplan ARGV`` in the command server; its exit status, or None when no server
    took it (then nothing was run, and the caller runs it in this process)."""
    wanted = mode()
    if wanted == "off" or argv in LIGHT or (argv and argv[0] in LOCAL_ONLY):
        return None
    sock = connect()
    if sock is None:
        if wanted == "auto" or (wanted == "default" and _interactive_rehearsal(argv)):
            start_in_background(announce=wanted == "default")
        return None
    with sock:
        fds = _stdio_fds()
        try:
            message = request(argv)
        except OSError:  # e.g. the working directory was removed: the command says so itself
            return None
        if fds is None:  # a closed standard stream: nothing to hand over faithfully
            return None
        # from here on the terminal's signals are the command's: passed on (if they come
        # before the server has forked, the server reads them right after)
        relay = _Relay(sock)
        try:
            wire.send(sock, message, fds)
        except OSError:  # the server went away before it had the whole request: nothing ran
            return _refused(relay.caught)
        relay.open()
        try:
            reply = wire.recv(sock)
        except (OSError, wire.WireError):
            reply = None
        if reply is None:
            print(
                "cozyplan: the command server closed the connection without answering; the "
                "command may or may not have started. Check with 'cozyplan plan', or run with "
                "COZYPLAN_SERVER=off.",
                file=sys.stderr,
            )
            return 1
        answer = reply[0]
        if "pid" not in answer:
            if answer.get("refused") == "stale":  # it exits: a fresh one for the next commands
                start_in_background()
            return _refused(relay.caught)
        return _follow(sock, int(answer["pid"]))


def _refused(caught: list[int]) -> int | None:
    """The server did not take the command: this process runs it, unless it was interrupted
    meanwhile (then it stops, as the command would have at once)."""
    for sig in FORWARDED:
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    if caught:
        return 128 + caught[0]
    return None


def connect() -> socket.socket | None:
    """A connection to this environment's server, or None when there is none (or it is not
    ours: a socket that another user could have put there is never spoken to)."""
    if not hasattr(socket, "SO_PEERCRED"):  # not Linux: no server (``server start`` says so)
        return None
    path = socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        if wire.peer_uid(sock) != os.getuid():
            raise OSError(f"{path} is served by another user")
    except OSError:
        sock.close()
        return None
    return sock


def request(argv: list[str]) -> dict[str, Any]:
    """What the server needs to run the command as this process would have."""
    umask = os.umask(0)
    os.umask(umask)
    return {
        "op": "run",
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "version": __version__,
        "executable": interpreter(),
        "package": package_dir(),
        # sys.path[0] is this script's directory (or the working directory for ``-m``): the
        # server runs with none (``-P``)
        "path": sys.path[1:],
        "stdio": [
            {"encoding": stream.encoding, "errors": stream.errors}
            for stream in (sys.stdin, sys.stdout, sys.stderr)
        ],
    }


def _stdio_fds() -> list[int] | None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            return None
    return [0, 1, 2]


class _Relay:
    """Passes the signals this process gets on to the server, once the request is sent (a
    message sent from a handler in the middle of the request would cut it in two)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.caught: list[int] = []
        self._open = False
        for sig in FORWARDED:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        self.caught.append(signum)
        if self._open:
            self._send(signum)

    def open(self) -> None:
        """Send what came so far, then each as it comes (blocked meanwhile: none twice)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
        try:
            self._open = True
            for signum in self.caught:
                self._send(signum)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)

    def _send(self, signum: int) -> None:
        with contextlib.suppress(OSError):  # the server is gone: the next recv says so
            wire.send(self.sock, {"signal": signum})


def _follow(sock: socket.socket, pid: int) -> int:
    """Wait until the server reports how the command ended (signals are relayed meanwhile)."""
    while True:
        try:
            got = wire.recv(sock)
        except (OSError, wire.WireError):
            got = None
        if got is None:  # the server died; the command runs on, and writes to our streams
            _outlive(pid)
            print(
                f"cozyplan: the command server died while running this command (pid {pid}); "
                "the command has ended, its exit status is unknown",
                file=sys.stderr,
            )
            return 1
        message = got[0]
        if "exit" in message:
            return int(message["exit"])
        if "signal" in message:  # the command died of a signal: so does this process
            died_of = signal.Signals(int(message["signal"]))
            signal.signal(died_of, signal.SIG_DFL)
            os.kill(os.getpid(), died_of)
            return 128 + died_of


def _outlive(pid: int) -> None:
    """Wait until process ``pid`` (not our child: we cannot reap it) has ended."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # the pid was reused by another user's process
            return
        time.sleep(0.05)


def _interactive_rehearsal(argv: list[str]) -> bool:
    """A ``--lab`` command typed at a terminal (not a script's, not a CI job's)."""
    return "--lab" in argv and not os.environ.get("CI") and os.isatty(0) and os.isatty(2)


def start_in_background(*, announce: bool = False) -> None:
    """Start a server for the next commands (this one runs in this process); it leaves after
    ``AUTO_IDLE_TIMEOUT`` without a command."""
    from cozyplan.server.control import ServerError, start

    with contextlib.suppress(OSError, ServerError):
        started = start(wait=False, idle_timeout=AUTO_IDLE_TIMEOUT)
        if announce:
            print(
                f"cozyplan: started a command server (pid {started['pid']}) for the next "
                "commands: they skip the start-up. 'cozyplan server stop' ends it; "
                "COZYPLAN_SERVER=off turns this off.",
                file=sys.stderr,
            )
